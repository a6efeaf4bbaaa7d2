import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLine, missingHostPackages, srcFiles } from '../lib/arm64-image.js';
import { xlConfig } from '../lib/guest.js';
import { parseCrcLines, stableCrc } from '../lib/vkms.js';
import { parseProbe } from '../scenarios/a7-compositor-dmabuf.js';
import { centred, checkWindow, xrgbToRgb } from '../scenarios/a8-weston-window.js';
import { parsePlanes } from '../scenarios/a9-overlay-planes.js';
import { smpteAt } from '../lib/smpte.js';

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

void test("a8's window check: every pixel of the SMPTE window at its place, a uniform background around it", () => {
  const W = 64;
  const H = 48;
  const w = 28;
  const h = 18;
  const at = centred({ width: W, height: H }, { width: w, height: h });
  assert.deepEqual(at, { x: 18, y: 15 });
  const draw = (ox: number, oy: number) => {
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(smpteAt(x, y, w, h), ((oy + y) * W + ox + x) * 3);
    return { width: W, height: H, data };
  };
  const good = draw(at.x, at.y);
  assert.deepEqual(checkWindow(good, at, w, h), { inside: 0, outside: 0, background: [0, 0, 0], first: undefined });
  // one pixel off inside, one outside: each counted where it is
  const bad = draw(at.x, at.y);
  bad.data[((at.y + 5) * W + at.x + 5) * 3] ^= 1;
  bad.data[(2 * W + 2) * 3 + 1] = 9;
  const r = checkWindow(bad, at, w, h);
  assert.equal(r.inside, 1);
  assert.equal(r.outside, 1);
  // the picture one pixel away from its place fails
  const shifted = checkWindow(draw(at.x + 1, at.y), at, w, h);
  assert.ok(shifted.inside > 0 && shifted.outside > 0);
});

void test("modetest -p's planes: each id with its type property's value", () => {
  const plane = (id: number, type: number) =>
    `${id}\t0\t0\t0,0\t\t0,0\t0       \t0x00000001\n  formats: XR24 AR24\n  props:\n\t8 type:\n\t\tflags: immutable enum\n\t\tenums: Overlay=0 Primary=1 Cursor=2\n\t\tvalue: ${type}\n\t30 IN_FORMATS:\n\t\tflags: immutable blob\n`;
  const out = `CRTCs:\nid\tfb\tpos\tsize\n35\t0\t(0,0)\t(0x0)\n\nPlanes:\nid\tcrtc\tfb\tCRTC x,y\tx,y\tgamma size\tpossible crtcs\n${plane(31, 1)}${plane(36, 0)}${plane(37, 0)}${plane(44, 2)}`;
  assert.deepEqual(parsePlanes(out), [
    { id: 31, type: 1 },
    { id: 36, type: 0 },
    { id: 37, type: 0 },
    { id: 44, type: 2 },
  ]);
  assert.deepEqual(parsePlanes('CRTCs:\n'), []);
});

void test("a8's scan-out read: XRGB8888 words to RGB, the unused byte ignored whatever it holds", () => {
  // two pixels: grey with X 0 (what modetest's XR24 bars hold), red with X 0xff
  const raw = Uint8Array.from([0xc0, 0xc0, 0xc0, 0x00, 0x00, 0x00, 0xff, 0xff]);
  assert.deepEqual([...xrgbToRgb(raw, 2, 1).data], [0xc0, 0xc0, 0xc0, 0xff, 0x00, 0x00]);
});

void test("the Arm64 lab's Wayland module is generated from the same protocols as binding.gyp's", () => {
  const root = new URL('../../../', import.meta.url);
  const gyp = readFileSync(new URL('binding.gyp', root), 'utf8');
  const sh = readFileSync(new URL('test/e2e/image-arm64/addon.sh', root), 'utf8');
  const fromGyp = new Set([...gyp.matchAll(/<\(protocols\)\/([\w/-]+)\.xml/g)].map((m) => m[1]!));
  const loop = /for x in ([^;]+); do\n\s+n=\$\{x##\*\/\}/.exec(sh);
  assert.ok(loop, "addon.sh's protocol loop");
  assert.deepEqual(new Set(loop[1]!.trim().split(/\s+/)), fromGyp);
  assert.ok(fromGyp.size >= 4, [...fromGyp].join(' '));
});
