// mapFdPages: any pages of a file, in any order, as one contiguous range (what gntdev does for
// grants of scattered frames). The bytes must be the file's very pages (zero-copy both ways), the
// bounds are checked before anything is mapped, and unmap is idempotent and leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';

const PAGE = native().pageSize();
const FILE_PAGES = 32;

/** A file of FILE_PAGES pages; page k is filled with byte k and starts with the tag 0xA0 + k. */
function withPagedFile(fn: (fd: number, whole: Uint8Array, path: string) => void): void {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vdispld-scatter-'));
  const path = join(dir, 'mem');
  const fd = openSync(path, 'w+', 0o600);
  const before = native().memoryStats();
  try {
    ftruncateSync(fd, FILE_PAGES * PAGE);
    const whole = native().mapFd(fd, 0, FILE_PAGES * PAGE, true);
    try {
      const bytes = new Uint8Array(whole.buffer);
      for (let k = 0; k < FILE_PAGES; k++) {
        bytes.fill(k, k * PAGE, (k + 1) * PAGE);
        bytes[k * PAGE] = 0xa0 + k;
      }
      fn(fd, bytes, path);
    } finally {
      whole.unmap();
    }
    assert.deepEqual(native().memoryStats(), before, 'every mapping made by the test is gone');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertPages(view: Uint8Array, pages: readonly number[]): void {
  assert.equal(view.length, pages.length * PAGE);
  pages.forEach((k, i) => {
    assert.equal(view[i * PAGE], 0xa0 + k, `page ${i} starts with file page ${k}'s tag`);
    assert.equal(view[i * PAGE + 1], k);
    assert.equal(view[(i + 1) * PAGE - 1], k, `page ${i} ends with file page ${k}'s bytes`);
  });
}

void test('scattered, reversed and mixed pages map to the right bytes, in the order asked', () => {
  withPagedFile((fd) => {
    const layouts = [
      [7, 2, 19, 3, 30],
      Array.from({ length: FILE_PAGES }, (_, i) => FILE_PAGES - 1 - i),
      [3, 4, 5, 10, 11, 0, 1, 2, 31],
      [6, 6, 6], // the same page three times, as a guest may grant one frame under several refs
      [12],
    ];
    for (const pages of layouts) {
      const m = native().mapFdPages(fd, Uint32Array.from(pages), false);
      try {
        assertPages(new Uint8Array(m.buffer), pages);
      } finally {
        m.unmap();
      }
    }
  });
});

void test('a write through one mapping is seen through the other, both ways (zero-copy)', () => {
  withPagedFile((fd, whole) => {
    const pages = [9, 1, 25, 2];
    const m = native().mapFdPages(fd, Uint32Array.from(pages), true);
    const view = new Uint8Array(m.buffer);
    try {
      view[2 * PAGE + 100] = 0x5c; // our page 2 is file page 25
      assert.equal(whole[25 * PAGE + 100], 0x5c);
      whole[PAGE + 7] = 0xe1; // file page 1 is our page 1
      assert.equal(view[PAGE + 7], 0xe1);
      const again = native().mapFdPages(fd, Uint32Array.from([25]), false);
      assert.equal(new Uint8Array(again.buffer)[100], 0x5c, 'a second scatter mapping sees the same page');
      again.unmap();
    } finally {
      m.unmap();
    }
  });
});

void test('unmap detaches the view, is idempotent and gives back the count', () => {
  withPagedFile((fd) => {
    const before = native().memoryStats();
    const m = native().mapFdPages(fd, Uint32Array.from([4, 8, 15, 16, 23]), true);
    assert.deepEqual(native().memoryStats(), {
      mappings: before.mappings + 1,
      mappedBytes: before.mappedBytes + 5 * PAGE,
    });
    m.unmap();
    m.unmap();
    assert.equal(m.buffer.byteLength, 0);
    assert.deepEqual(native().memoryStats(), before);
  });
});

void test('bounds and arguments are checked before anything is mapped', () => {
  withPagedFile((fd) => {
    const before = native().memoryStats();
    assert.throws(() => native().mapFdPages(fd, Uint32Array.from([1, FILE_PAGES]), false), RangeError, 'a page at EOF');
    assert.throws(() => native().mapFdPages(fd, Uint32Array.from([0xffffffff]), false), RangeError);
    assert.throws(() => native().mapFdPages(fd, new Uint32Array(0), false), RangeError);
    assert.throws(() => native().mapFdPages(fd, new Uint32Array(65537), false), RangeError);
    assert.throws(() => native().mapFdPages(fd, [1, 2] as unknown as Uint32Array, false), TypeError);
    assert.throws(() => native().mapFdPages(fd, Int32Array.from([1]) as unknown as Uint32Array, false), TypeError);
    assert.throws(() => native().mapFdPages(-1, Uint32Array.from([0]), false), RangeError);
    const closed = openSync('/dev/null', 'r');
    closeSync(closed);
    assert.throws(
      () => native().mapFdPages(closed, Uint32Array.from([0]), false),
      (e: NodeJS.ErrnoException) => e.code === 'EBADF',
    );
    assert.deepEqual(native().memoryStats(), before, 'a refused call leaves no mapping');
  });
});

void test('a read-only scatter mapping cannot be written (the process faults)', () => {
  withPagedFile((_fd, _whole, path) => {
    // A write to a PROT_READ page kills the process, so it happens in a child of its own.
    const addon = join(process.cwd(), 'build', 'Release', 'vdispl_native.node');
    const script = `
      const fs = require('node:fs');
      const a = require(${JSON.stringify(addon)});
      const fd = fs.openSync(${JSON.stringify(path)}, 'r+');
      const m = a.mapFdPages(fd, Uint32Array.from([3, 1]), false);
      const v = new Uint8Array(m.buffer);
      process.stdout.write('read ' + v[${PAGE}] + '\\n');
      v[${PAGE}] = 1;
      process.stdout.write('wrote\\n');`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stdout, `read ${0xa0 + 1}\n`, r.stderr);
    assert.equal(r.signal, 'SIGSEGV');
  });
});
