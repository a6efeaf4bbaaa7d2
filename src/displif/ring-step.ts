// io/ring.h's two backend steps, each whole: take every published request (copied once into
// private memory, req_prod checked, the final check when the ring runs dry), and publish the
// written responses (and say whether to notify). Over the native addon each is one call
// (native/src/ring_step.cc); over plain memory the same steps are built from SharedMemory's four
// operations, for tests and the fuzzer. Both share one state array, the ring's private indices.
import { RING_SIZE, SLOT_SIZE } from './constants.js';
import type { SharedMemory } from './shared-memory.js';
import { SRING } from './wire-layout.js';

/** The words of a ring's state array (the addon reads the same layout). */
export const RingState = {
  /** Next request to copy (the ring's req_cons). */
  reqCons: 0,
  /** Responses written, published or not (rsp_prod_pvt). */
  rspProdPvt: 1,
  /** rsp_prod as last published. */
  rspProdPushed: 2,
  /** The req_prod read last: what a violation is reported with. */
  reqProdSeen: 3,
  /** 1 when requests are left on the ring after a consume. */
  more: 4,
  ringSize: 5,
  slotSize: 6,
  ringOffset: 7,
  words: 8,
} as const;

export interface RingStep {
  /**
   * Copies up to `max` published requests into `out` (slot after slot) and returns how many, or
   * -1 when req_prod is impossible (nothing more is copied; state[reqProdSeen] holds it).
   */
  consume(state: Uint32Array, out: Uint8Array, max: number): number;
  /** Publishes rsp_prod = state[rspProdPvt]; true when the frontend asked to be notified. */
  publish(state: Uint32Array): boolean;
}

// io/ring.h's header is the same for every ring; the addon relies on it.
if (SRING.req_prod !== 0 || SRING.req_event !== 4 || SRING.rsp_prod !== 8 || SRING.rsp_event !== 12)
  throw new Error('displif sring header is not io/ring.h layout');

/** A fresh state for a displif control ring whose indices start at `startIndex`. */
export function newRingState(startIndex: number): Uint32Array {
  const s = new Uint32Array(RingState.words);
  s[RingState.reqCons] = startIndex;
  s[RingState.rspProdPvt] = startIndex;
  s[RingState.rspProdPushed] = startIndex;
  s[RingState.ringSize] = RING_SIZE;
  s[RingState.slotSize] = SLOT_SIZE;
  s[RingState.ringOffset] = SRING.ring;
  return s;
}

/** The steps from the four SharedMemory operations: what the addon does, one operation at a time. */
export function portableRingStep(mem: SharedMemory): RingStep {
  return {
    consume(st, out, max) {
      const size = st[RingState.ringSize]!;
      const slot = st[RingState.slotSize]!;
      const ringOffset = st[RingState.ringOffset]!;
      const pvt = st[RingState.rspProdPvt]!;
      max = Math.min(max, size);
      let cons = st[RingState.reqCons]!;
      let copied = 0;
      for (;;) {
        const prod = mem.load32Acquire(SRING.req_prod);
        st[RingState.reqProdSeen] = prod;
        const ahead = (prod - pvt) >>> 0;
        if (ahead > size || ahead < (cons - pvt) >>> 0) {
          st[RingState.reqCons] = cons;
          st[RingState.more] = 0;
          return -1;
        }
        while (cons !== prod && copied < max) {
          mem.copyOut(ringOffset + (cons & (size - 1)) * slot, out, copied * slot, slot);
          cons = (cons + 1) >>> 0;
          copied++;
        }
        st[RingState.reqCons] = cons;
        if (cons !== prod) {
          st[RingState.more] = 1;
          return copied;
        }
        mem.store32Release(SRING.req_event, (cons + 1) >>> 0);
        mem.fullBarrier();
        const again = mem.load32Acquire(SRING.req_prod);
        if (again === cons) {
          st[RingState.more] = 0;
          return copied;
        }
        if (copied > 0) {
          st[RingState.reqProdSeen] = again;
          st[RingState.more] = 1;
          return copied;
        }
      }
    },
    publish(st) {
      const newProd = st[RingState.rspProdPvt]!;
      const oldProd = st[RingState.rspProdPushed]!;
      mem.store32Release(SRING.rsp_prod, newProd);
      st[RingState.rspProdPushed] = newProd;
      mem.fullBarrier();
      const rspEvent = mem.load32Acquire(SRING.rsp_event);
      return (newProd - rspEvent) >>> 0 < (newProd - oldProd) >>> 0;
    },
  };
}
