import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';

void test('a mapping is shared, detached on unmap, and counted', () => {
  const n = native();
  const before = n.memoryStats().mappings;
  const m = n.mapAnonymous(8192);
  const view = new Uint8Array(m.buffer);
  assert.equal(n.memoryStats().mappings, before + 1);
  n.store32Release(view, 4096, 0xdeadbeef);
  assert.equal(n.load32Acquire(view, 4096), 0xdeadbeef);
  const dst = new Uint8Array(64);
  view.fill(7, 64, 128);
  n.copyOut(view, 64, dst, 0, 64);
  assert.deepEqual([...dst], new Array(64).fill(7));
  m.unmap();
  m.unmap();
  assert.equal(m.buffer.byteLength, 0, 'buffer is detached after unmap');
  assert.equal(n.memoryStats().mappings, before);
});

void test('out-of-range and unaligned accesses throw instead of touching memory', () => {
  const n = native();
  const m = n.mapAnonymous(4096);
  const view = new Uint8Array(m.buffer);
  assert.throws(() => n.load32Acquire(view, 4096), RangeError);
  assert.throws(() => n.load32Acquire(view, 2), RangeError);
  assert.throws(() => n.copyOut(view, 4090, new Uint8Array(64), 0, 64), RangeError);
  m.unmap();
  assert.throws(() => n.load32Acquire(view, 0));
});

void test('mapFd maps the very same pages of a file in two places', async () => {
  const { openSync, closeSync, ftruncateSync, unlinkSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = `${tmpdir()}/vdispld-mapfd-${process.pid}`;
  const fd = openSync(path, 'w+');
  try {
    ftruncateSync(fd, 8192);
    const a = native().mapFd(fd, 4096, 4096, true);
    const b = native().mapFd(fd, 0, 8192, false);
    new Uint8Array(a.buffer)[10] = 42;
    assert.equal(new Uint8Array(b.buffer)[4096 + 10], 42);
    a.unmap();
    b.unmap();
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
});
