// The four operations ring code needs on a page shared with another domain. The ring logic is
// written against this interface only, so it stays pure: over the native addon it gets the
// barriers io/ring.h prescribes; over a plain Uint8Array it runs in single-process unit tests.
import { native } from '../native/addon.js';
import { HOST_IS_LITTLE_ENDIAN, readU32, writeU32 } from './bytes.js';
import type { RingStep } from './ring-step.js';

export interface SharedMemory {
  /** The shared bytes. Writes through it are plain stores; publish them with store32Release. */
  readonly bytes: Uint8Array;
  /** Reads an index the other side publishes; later reads of what it guards see its writes. */
  load32Acquire(offset: number): number;
  /** Publishes an index: every earlier write to `bytes` is visible to the other side first. */
  store32Release(offset: number, value: number): void;
  /** xen_mb(): orders our index write before our re-read of the other side's index. */
  fullBarrier(): void;
  /** Copies `length` shared bytes into private memory, reading each byte exactly once. */
  copyOut(offset: number, dst: Uint8Array, dstOffset: number, length: number): void;
  /**
   * io/ring.h's backend steps, one native call each, where the memory has them; a ring over
   * memory without them builds the same steps from the four operations above (ring-step.ts).
   */
  readonly ringStep?: RingStep;
  /**
   * The event page's producer step, one native call, where the memory has it: writes a PG_FLIP
   * event at `inProd` and publishes in_prod + 1 when in_cons shows that slot plainly free; false,
   * and nothing written, otherwise (event-page.ts then reads in_cons itself).
   */
  readonly putPgFlipEvent?: (inProd: number, id: number, fbCookie: bigint) => boolean;
}

/** Over memory mapped by the native addon (a grant mapping, a simulated guest's memory file). */
export function nativeSharedMemory(bytes: Uint8Array): SharedMemory {
  // The addon reads indices in host order; the codecs read the wire little-endian.
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('vdispld supports little-endian hosts only');
  const n = native();
  return {
    bytes,
    load32Acquire: (offset) => n.load32Acquire(bytes, offset),
    store32Release: (offset, value) => n.store32Release(bytes, offset, value >>> 0),
    fullBarrier: () => n.fullBarrier(),
    copyOut: (offset, dst, dstOffset, length) => n.copyOut(bytes, offset, dst, dstOffset, length),
    // An addon built before the ring steps (a stale build/ in a working copy) has the four
    // operations only: the ring then builds its steps from them, as over plain memory.
    ...(typeof n.ringConsume === 'function'
      ? {
          ringStep: {
            consume: (state: Uint32Array, out: Uint8Array, max: number) => n.ringConsume(bytes, state, out, max),
            publish: (state: Uint32Array) => n.ringPublish(bytes, state),
          },
        }
      : {}),
    ...(typeof n.eventPutPgFlip === 'function'
      ? {
          putPgFlipEvent: (inProd: number, id: number, fbCookie: bigint) =>
            n.eventPutPgFlip(bytes, inProd, id, fbCookie),
        }
      : {}),
  };
}

/**
 * Over ordinary memory: for tests and for code that only ever runs in one thread. JavaScript on one
 * thread needs no barriers; the bounds checks match the native ones so tests catch the same bugs.
 */
export function plainSharedMemory(bytes: Uint8Array): SharedMemory {
  const check = (offset: number, length: number, what: string): void => {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > bytes.length) {
      throw new RangeError(`${what}: range outside the view`);
    }
  };
  return {
    bytes,
    load32Acquire: (offset) => {
      check(offset, 4, 'load32Acquire');
      if (offset % 4) throw new RangeError('load32Acquire: unaligned');
      return readU32(bytes, offset);
    },
    store32Release: (offset, value) => {
      check(offset, 4, 'store32Release');
      if (offset % 4) throw new RangeError('store32Release: unaligned');
      writeU32(bytes, offset, value >>> 0);
    },
    fullBarrier: () => {},
    copyOut: (offset, dst, dstOffset, length) => {
      check(offset, length, 'copyOut src');
      if (dstOffset < 0 || dstOffset + length > dst.length) throw new RangeError('copyOut dst: range outside the view');
      dst.set(bytes.subarray(offset, offset + length), dstOffset);
    },
  };
}
