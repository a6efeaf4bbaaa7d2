import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLine, missingHostPackages, srcFiles } from '../lib/arm64-image.js';
import { xlConfig } from '../lib/guest.js';
import { parseCrcLines, stableCrc } from '../lib/vkms.js';
import { parseProbe } from '../scenarios/a7-compositor-dmabuf.js';

void test('vkms crc/data lines: frame and CRC, anything else ignored', () => {
  const e = parseCrcLines(
    '0x0000001a 0x25DAA017\n\0 0x0000001b 0x25daa017\nhead: read error\n  \n0x0000001c 0x00000000\n',
  );
  assert.deepEqual(e, [
    { frame: 0x1a, crc: '25daa017' },
    { frame: 0x1b, crc: '25daa017' },
    { frame: 0x1c, crc: '00000000' },
  ]);
});

void test('a stable CRC needs the last n frames to agree', () => {
  const f = (...crcs: string[]) => crcs.map((crc, i) => ({ frame: i, crc }));
  assert.equal(stableCrc(f('aa', 'bb', 'bb', 'bb')), 'bb');
  assert.equal(stableCrc(f('bb', 'bb', 'aa')), undefined);
  assert.equal(stableCrc(f('bb', 'bb')), undefined, 'too few frames');
  assert.equal(stableCrc(f('bb', 'bb'), 2), 'bb');
});

void test('an arm64 guest: no x86 type, the lab kernel, the vdispl line as given', () => {
  const cfg = xlConfig({ name: 'g', vdispl: 'backend=0,be-alloc=1,connectors=id0:1024x768', arch: 'arm64' });
  assert.match(cfg, /^kernel = "\/root\/guest\/Image"$/m);
  assert.doesNotMatch(cfg, /^type =/m);
  // warnings reach the console, the crash scan's only record of a destroyed guest
  assert.match(cfg, /^extra = ".*\bloglevel=5\b.*"$/m);
  assert.match(cfg, /^vdispl = \[ 'backend=0,be-alloc=1,connectors=id0:1024x768' \]$/m);
  assert.match(xlConfig({ name: 'g', vdispl: 'x' }), /^type = "pv"$/m);
});

void test('missing host tools are named by their Debian package, once each', () => {
  const present = new Set([
    'flex',
    'bison',
    'bc',
    'make',
    'patch',
    'file',
    'busybox',
    'cpio',
    'xz',
    '/usr/include/openssl/ssl.h',
    '/usr/include/libelf.h',
  ]);
  assert.deepEqual(missingHostPackages((t) => present.has(t)).sort(), [
    'g++-aarch64-linux-gnu',
    'gcc-aarch64-linux-gnu',
    'linux-source-6.1',
    'qemu-system-arm',
  ]);
  assert.deepEqual(
    missingHostPackages(() => true),
    [],
  );
});

void test("a failed step's one line: the last line that says something, not make's echo", () => {
  assert.equal(
    lastLine('CC foo.o\ndrivers/x.c:1: error: boom\nmake[2]: *** [x.o] Error 1\nmake: *** [all] Error 2\n\n'),
    'drivers/x.c:1: error: boom',
  );
  assert.equal(lastLine(''), 'no output');
});

void test("a key's source files: the folder's own files, sorted; a subfolder (native/src/wayland) is left out", () => {
  const dir = mkdtempSync(join(tmpdir(), 'arm64-key-'));
  try {
    writeFileSync(join(dir, 'b.cc'), 'B');
    writeFileSync(join(dir, 'a.h'), 'A');
    mkdirSync(join(dir, 'wayland'));
    writeFileSync(join(dir, 'wayland', 'c.cc'), 'C');
    assert.deepEqual(srcFiles(dir), ['a.h\nA', 'b.cc\nB']);
    assert.deepEqual(srcFiles(join(dir, 'absent')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("the CPU-read probe's lines: each step ok with its time and detail, or the kernel's errno", () => {
  const steps = parseProbe(
    [
      'probe: gntdev EXP_FROM_REFS: ok 53.7 ms',
      'probe: exported dma-buf size 3145728 (lseek)',
      'probe: mmap of the exported dma-buf: errno 22 Invalid argument',
      'probe: mmap of the card at the imported handle: ok 4.0 ms, 0 of 786432 pixels differ from the pattern',
    ].join('\n'),
  );
  assert.deepEqual(steps, [
    { step: 'gntdev EXP_FROM_REFS', ok: true, ms: 53.7, detail: '' },
    { step: 'mmap of the exported dma-buf', ok: false, ms: undefined, detail: 'errno 22 Invalid argument' },
    {
      step: 'mmap of the card at the imported handle',
      ok: true,
      ms: 4,
      detail: '0 of 786432 pixels differ from the pattern',
    },
  ]);
});
