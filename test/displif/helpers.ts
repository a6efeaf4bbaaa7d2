// Shared pages for ring tests: real mappings from the native addon (MAP_SHARED, the same code
// path as a grant mapping), released and counted so every test proves it left nothing mapped.
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { nativeSharedMemory, type SharedMemory } from '../../src/displif/shared-memory.js';

export interface SharedPage {
  readonly bytes: Uint8Array;
  /** The backend's view and the frontend's view: two accessors over the same page. */
  readonly back: SharedMemory;
  readonly front: SharedMemory;
}

export function withSharedPage<T>(fn: (page: SharedPage) => T): T {
  const before = native().memoryStats().mappings;
  const m = native().mapAnonymous(4096);
  try {
    const bytes = new Uint8Array(m.buffer);
    return fn({ bytes, back: nativeSharedMemory(bytes), front: nativeSharedMemory(bytes) });
  } finally {
    m.unmap();
    assert.equal(native().memoryStats().mappings, before, 'the test page is unmapped');
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
