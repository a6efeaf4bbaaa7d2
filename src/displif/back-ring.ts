// The control ring, backend side (io/ring.h's BACK_RING over one 4 KiB page). The frontend
// initialises the page; the backend never does. Indices are free-running u32s, so every comparison
// is on differences taken modulo 2^32. The frontend is hostile: req_prod is read once per batch,
// checked against what the ring can hold, and each slot is copied once into private memory.
import { RING_SIZE, SLOT_SIZE } from './constants.js';
import { writeResponseSlot } from './responses.js';
import type { SharedMemory } from './shared-memory.js';
import { SRING } from './wire-layout.js';

const SLOT_MASK = RING_SIZE - 1;

export function ringSlotOffset(index: number): number {
  return SRING.ring + (index & SLOT_MASK) * SLOT_SIZE;
}

export type ConsumeOutcome =
  | ConsumeOk
  | {
      /** The frontend published an impossible req_prod: treat it as broken and close it. */
      readonly kind: 'violation';
      readonly consumed: number;
      readonly reason: string;
      readonly reqProd: number;
    };

export interface ConsumeOk {
  readonly kind: 'ok';
  readonly consumed: number;
  /** Requests remain (budget exhausted, or more arrived during the final check): call again soon. */
  readonly more: boolean;
}

// The outcomes of serving one request at a time, made once: the request path allocates none.
const OK_SMALL: readonly (readonly [ConsumeOk, ConsumeOk])[] = [0, 1].map((consumed) => [
  Object.freeze({ kind: 'ok', consumed, more: false }),
  Object.freeze({ kind: 'ok', consumed, more: true }),
]);

function ok(consumed: number, more: boolean): ConsumeOk {
  const pair = OK_SMALL[consumed];
  return pair ? pair[more ? 1 : 0] : { kind: 'ok', consumed, more };
}

/**
 * Receives a private copy of one request slot. The array is reused for the next request: decode
 * it before returning.
 */
export type RequestSink = (copy: Uint8Array) => void;

export class BackRing {
  private reqCons: number;
  private rspProdPvt: number;
  /** rsp_prod as we last published it; the shared copy is the guest's to scribble on. */
  private rspProdPushed: number;
  private violation: string | undefined;
  private violationReqProd = 0;
  private readonly scratch = new Uint8Array(SLOT_SIZE);

  /**
   * `startIndex` is where the frontend initialised the indices: 0 for every real frontend
   * (SHARED_RING_INIT); tests start near 2^32 to exercise wrap-around.
   */
  constructor(
    private readonly mem: SharedMemory,
    startIndex = 0,
  ) {
    this.reqCons = startIndex >>> 0;
    this.rspProdPvt = startIndex >>> 0;
    this.rspProdPushed = startIndex >>> 0;
  }

  /** Requests consumed and not yet answered. */
  get outstanding(): number {
    return (this.reqCons - this.rspProdPvt) >>> 0;
  }

  /** Set once a violation was seen; the ring is not read again after that. */
  get violated(): string | undefined {
    return this.violation;
  }

  get requestsConsumed(): number {
    return this.reqCons;
  }

  /**
   * Hands up to `budget` requests to `sink`, in ring order. When the ring runs dry it re-arms
   * req_event (RING_FINAL_CHECK_FOR_REQUESTS), so the frontend's next push notifies us.
   */
  consume(budget: number, sink: RequestSink): ConsumeOutcome {
    if (this.violation !== undefined) {
      return { kind: 'violation', consumed: 0, reason: this.violation, reqProd: this.violationReqProd };
    }
    const reqProd = this.mem.load32Acquire(SRING.req_prod);
    const v = this.check(reqProd);
    if (v) return { kind: 'violation', consumed: 0, reason: v, reqProd };
    let consumed = 0;
    while (this.reqCons !== reqProd) {
      if (consumed >= budget) return ok(consumed, true);
      this.mem.copyOut(ringSlotOffset(this.reqCons), this.scratch, 0, SLOT_SIZE);
      this.reqCons = (this.reqCons + 1) >>> 0;
      consumed++;
      sink(this.scratch);
    }
    return ok(consumed, this.finalCheckForRequests());
  }

  /**
   * RING_FINAL_CHECK_FOR_REQUESTS: true when requests are waiting; otherwise asks for a
   * notification at the next one (req_event = req_cons + 1) and checks once more, closing the race
   * with a frontend that pushed in between.
   */
  finalCheckForRequests(): boolean {
    if (this.hasUnconsumed()) return true;
    this.mem.store32Release(SRING.req_event, (this.reqCons + 1) >>> 0);
    this.mem.fullBarrier();
    return this.hasUnconsumed();
  }

  /**
   * Writes a response into the next response slot (not yet visible to the frontend: see
   * pushResponses). Only a consumed request can be answered, and only once. `edidSz` counts for
   * GET_EDID only. The fields are arguments, not a Response object: this is the request path.
   */
  writeResponse(id: number, operation: number, status: number, edidSz = 0): void {
    if (this.outstanding === 0)
      throw new Error('BackRing.writeResponse: no consumed request is waiting for a response');
    writeResponseSlot(this.mem.bytes, ringSlotOffset(this.rspProdPvt), id, operation, status, edidSz);
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
  }

  /**
   * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes written responses; true when the frontend asked
   * to be notified (its rsp_event lies within the newly published range).
   */
  pushResponses(): boolean {
    const oldProd = this.rspProdPushed;
    const newProd = this.rspProdPvt;
    this.mem.store32Release(SRING.rsp_prod, newProd);
    this.rspProdPushed = newProd;
    this.mem.fullBarrier();
    const rspEvent = this.mem.load32Acquire(SRING.rsp_event);
    return (newProd - rspEvent) >>> 0 < (newProd - oldProd) >>> 0;
  }

  /** writeResponse + pushResponses; returns whether to notify the frontend. */
  respond(id: number, operation: number, status: number, edidSz = 0): boolean {
    this.writeResponse(id, operation, status, edidSz);
    return this.pushResponses();
  }

  private hasUnconsumed(): boolean {
    const reqProd = this.mem.load32Acquire(SRING.req_prod);
    // Bounded by the free slots, as RING_HAS_UNCONSUMED_REQUESTS: a lying req_prod cannot make it
    // larger than the ring; consume() then reports the lie.
    const req = (reqProd - this.reqCons) >>> 0;
    const room = RING_SIZE - this.outstanding;
    return Math.min(req, room) > 0;
  }

  /** Why `reqProd` is impossible, or undefined when it is fine. Sticky: a broken ring stays broken. */
  private check(reqProd: number): string | undefined {
    const ahead = (reqProd - this.rspProdPvt) >>> 0;
    let reason: string | undefined;
    if (ahead > RING_SIZE) {
      // RING_REQUEST_PROD_OVERFLOW. It also catches a req_prod moved behind the responses.
      reason = `req_prod ${reqProd} is ${ahead} ahead of rsp_prod ${this.rspProdPvt}, more than the ${RING_SIZE} slots`;
    } else if (ahead < this.outstanding) {
      reason = `req_prod ${reqProd} moved back behind req_cons ${this.reqCons}`;
    }
    if (reason !== undefined) {
      this.violation = reason;
      this.violationReqProd = reqProd;
    }
    return reason;
  }
}
