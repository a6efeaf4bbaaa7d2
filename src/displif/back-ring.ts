// The control ring, backend side (io/ring.h's BACK_RING over one 4 KiB page). The frontend
// initialises the page; the backend never does. Indices are free-running u32s, so every comparison
// is on differences taken modulo 2^32. The frontend is hostile: req_prod is read once per batch,
// checked against what the ring can hold, and each slot is copied once into private memory, all
// in one step (ring-step.ts): one native call per wake-up takes every request waiting.
import { RING_SIZE, SLOT_SIZE } from './constants.js';
import { writeResponseSlot } from './responses.js';
import { newRingState, portableRingStep, RingState, type RingStep } from './ring-step.js';
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
 * Receives a private copy of one request slot, valid until the sink returns: decode it first.
 * Returning false (exactly) stops the consume there (a request went asynchronous); the requests already
 * copied behind it are handed on by the next consume, in order.
 */
export type RequestSink = (copy: Uint8Array) => unknown;

export class BackRing {
  /** The private indices, shared with the ring step (ring-step.ts RingState). */
  private readonly state: Uint32Array;
  private readonly step: RingStep;
  private violation: string | undefined;
  private violationReqProd = 0;
  /** Requests copied off the ring by the last step and not yet handed on: batch[pos..len). */
  private readonly batch = new Uint8Array(RING_SIZE * SLOT_SIZE);
  private readonly slots: readonly Uint8Array[];
  private batchLen = 0;
  private batchPos = 0;
  /** The last step left requests on the ring (it stopped at its limit, or more came). */
  private batchMore = false;

  /**
   * `startIndex` is where the frontend initialised the indices: 0 for every real frontend
   * (SHARED_RING_INIT); tests start near 2^32 to exercise wrap-around.
   */
  constructor(
    private readonly mem: SharedMemory,
    startIndex = 0,
  ) {
    this.state = newRingState(startIndex >>> 0);
    this.step = mem.ringStep ?? portableRingStep(mem);
    this.slots = Array.from({ length: RING_SIZE }, (_, i) => this.batch.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE));
  }

  /** Requests handed on and not yet answered. */
  get outstanding(): number {
    return (this.requestsConsumed - this.state[RingState.rspProdPvt]!) >>> 0;
  }

  /** Set once a violation was seen; the ring is not read again after that. */
  get violated(): string | undefined {
    return this.violation;
  }

  /** The index after the last request handed on (copies still waiting in the batch not counted). */
  get requestsConsumed(): number {
    return (this.state[RingState.reqCons]! - (this.batchLen - this.batchPos)) >>> 0;
  }

  /**
   * Hands up to `budget` requests to `sink`, in ring order. Every request published is copied off
   * the ring in one step; when the ring runs dry the step re-arms req_event
   * (RING_FINAL_CHECK_FOR_REQUESTS), so the frontend's next push notifies us.
   */
  consume(budget: number, sink: RequestSink): ConsumeOutcome {
    if (this.violation !== undefined) {
      return { kind: 'violation', consumed: 0, reason: this.violation, reqProd: this.violationReqProd };
    }
    let consumed = 0;
    let stepped = false;
    for (;;) {
      while (this.batchPos < this.batchLen) {
        if (consumed >= budget) return ok(consumed, true);
        const copy = this.slots[this.batchPos++]!;
        consumed++;
        if (sink(copy) === false) return ok(consumed, this.batchPos < this.batchLen || this.batchMore);
      }
      if (stepped && !this.batchMore) return ok(consumed, false);
      if (consumed >= budget) return ok(consumed, this.batchMore);
      const n = this.step.consume(this.state, this.batch, Math.min(RING_SIZE, budget - consumed));
      stepped = true;
      if (n < 0) {
        const reqProd = this.state[RingState.reqProdSeen]!;
        const reason = this.describe(reqProd);
        this.violation = reason;
        this.violationReqProd = reqProd;
        return { kind: 'violation', consumed, reason, reqProd };
      }
      this.batchLen = n;
      this.batchPos = 0;
      this.batchMore = this.state[RingState.more] === 1;
    }
  }

  /**
   * Writes a response into the next response slot (not yet visible to the frontend: see
   * pushResponses). Only a consumed request can be answered, and only once. `edidSz` counts for
   * GET_EDID only. The fields are arguments, not a Response object: this is the request path.
   */
  writeResponse(id: number, operation: number, status: number, edidSz = 0): void {
    if (this.outstanding === 0)
      throw new Error('BackRing.writeResponse: no consumed request is waiting for a response');
    const pvt = this.state[RingState.rspProdPvt]!;
    writeResponseSlot(this.mem.bytes, ringSlotOffset(pvt), id, operation, status, edidSz);
    this.state[RingState.rspProdPvt] = pvt + 1;
  }

  /**
   * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes written responses; true when the frontend asked
   * to be notified (its rsp_event lies within the newly published range).
   */
  pushResponses(): boolean {
    return this.step.publish(this.state);
  }

  /** writeResponse + pushResponses; returns whether to notify the frontend. */
  respond(id: number, operation: number, status: number, edidSz = 0): boolean {
    this.writeResponse(id, operation, status, edidSz);
    return this.pushResponses();
  }

  /** Why `reqProd` is impossible (the step found it so); a broken ring stays broken. */
  private describe(reqProd: number): string {
    const pvt = this.state[RingState.rspProdPvt]!;
    const ahead = (reqProd - pvt) >>> 0;
    // RING_REQUEST_PROD_OVERFLOW. It also catches a req_prod moved behind the responses.
    if (ahead > RING_SIZE)
      return `req_prod ${reqProd} is ${ahead} ahead of rsp_prod ${pvt}, more than the ${RING_SIZE} slots`;
    return `req_prod ${reqProd} moved back behind req_cons ${this.state[RingState.reqCons]!}`;
  }
}
