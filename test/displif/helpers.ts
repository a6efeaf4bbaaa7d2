// Shared pages for ring tests: one file-backed page mapped twice through the native addon
// (MAP_SHARED, the path grant mappings take), so the backend and the "guest" see the same memory
// at two different addresses. Both mappings are released and counted: every test proves it left
// nothing mapped.
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { nativeSharedMemory, type SharedMemory } from '../../src/displif/shared-memory.js';

export interface SharedPage {
  /** The guest's view of the page, for tests that play a misbehaving frontend. */
  readonly bytes: Uint8Array;
  /** The backend's accessor (its own mapping) and the frontend's (the guest's mapping). */
  readonly back: SharedMemory;
  readonly front: SharedMemory;
}

export function withSharedPage<T>(fn: (page: SharedPage) => T): T {
  const before = native().memoryStats().mappings;
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-displif-'));
  const fd = openSync(join(dir, 'page'), 'w+');
  try {
    ftruncateSync(fd, 4096);
    const guest = native().mapFd(fd, 0, 4096, true);
    const backend = native().mapFd(fd, 0, 4096, true);
    try {
      const bytes = new Uint8Array(guest.buffer);
      return fn({ bytes, back: nativeSharedMemory(new Uint8Array(backend.buffer)), front: nativeSharedMemory(bytes) });
    } finally {
      guest.unmap();
      backend.unmap();
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(native().memoryStats().mappings, before, 'both mappings of the test page are gone');
  }
}

/** Small deterministic PRNG (xorshift32) so a failing random case can be replayed from its seed. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
