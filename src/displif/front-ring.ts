// The control ring, frontend side, for the simulated frontend and tests: initialise the shared
// page (SHARED_RING_INIT + FRONT_RING_INIT), push requests with the notify check, and consume
// responses re-arming rsp_event. The frontend trusts no more than it must: response indices are
// checked (RING_RESPONSE_PROD_OVERFLOW) and each response slot is copied once.
import { RING_HEADER_SIZE, RING_SIZE, SLOT_SIZE } from './constants.js';
import { encodeRequest, type Request } from './requests.js';
import { decodeResponse, type DecodedResponse } from './responses.js';
import type { SharedMemory } from './shared-memory.js';
import { ringSlotOffset } from './back-ring.js';
import { SRING } from './wire-layout.js';

export type ResponseOutcome =
  | { readonly kind: 'ok'; readonly consumed: number; readonly more: boolean }
  | { readonly kind: 'violation'; readonly consumed: number; readonly reason: string };

export class FrontRing {
  private reqProdPvt: number;
  private rspCons: number;
  private reqProdPushed: number;
  private readonly scratch = new Uint8Array(SLOT_SIZE);

  /** Attaches to a ring already initialised at `startIndex` (0 for rings made by init()). */
  constructor(
    private readonly mem: SharedMemory,
    startIndex = 0,
  ) {
    this.reqProdPvt = startIndex >>> 0;
    this.rspCons = startIndex >>> 0;
    this.reqProdPushed = startIndex >>> 0;
  }

  /**
   * Initialises the shared header the way the frontend must before granting the page: indices at
   * `startIndex` (0 in every real frontend), both event indices one past them, padding zeroed.
   */
  static init(mem: SharedMemory, startIndex = 0): FrontRing {
    const s = startIndex >>> 0;
    mem.bytes.fill(0, 0, RING_HEADER_SIZE);
    mem.store32Release(SRING.req_prod, s);
    mem.store32Release(SRING.rsp_prod, s);
    mem.store32Release(SRING.req_event, (s + 1) >>> 0);
    mem.store32Release(SRING.rsp_event, (s + 1) >>> 0);
    return new FrontRing(mem, s);
  }

  /** RING_FREE_REQUESTS: slots not holding a request or an unconsumed response. */
  freeRequests(): number {
    return RING_SIZE - ((this.reqProdPvt - this.rspCons) >>> 0);
  }

  /** Writes `req` into the next slot (not yet visible: see pushRequests). Throws if the ring is full. */
  writeRequest(req: Request, id: number): void {
    this.nextSlot((b, o) => encodeRequest(req, id, b, o));
  }

  /** Writes 64 arbitrary bytes as the next request: for hostile-frontend tests. */
  writeRawRequest(slot: Uint8Array): void {
    if (slot.length !== SLOT_SIZE) throw new RangeError('writeRawRequest: need exactly one 64-byte slot');
    this.nextSlot((b, o) => b.set(slot, o));
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes written requests; true when the backend asked to be notified. */
  pushRequests(): boolean {
    const oldProd = this.reqProdPushed;
    const newProd = this.reqProdPvt;
    this.mem.store32Release(SRING.req_prod, newProd);
    this.reqProdPushed = newProd;
    this.mem.fullBarrier();
    const reqEvent = this.mem.load32Acquire(SRING.req_event);
    return (newProd - reqEvent) >>> 0 < (newProd - oldProd) >>> 0;
  }

  /**
   * Hands up to `budget` responses to `onResponse`; when none are left, re-arms rsp_event
   * (RING_FINAL_CHECK_FOR_RESPONSES) so the backend's next push notifies.
   */
  consumeResponses(budget: number, onResponse: (r: DecodedResponse) => void): ResponseOutcome {
    const rspProd = this.mem.load32Acquire(SRING.rsp_prod);
    const ahead = (rspProd - this.rspCons) >>> 0;
    const inFlight = (this.reqProdPvt - this.rspCons) >>> 0;
    if (ahead > inFlight) {
      return {
        kind: 'violation',
        consumed: 0,
        reason: `rsp_prod ${rspProd} is ${ahead} past rsp_cons ${this.rspCons} with ${inFlight} requests in flight`,
      };
    }
    let consumed = 0;
    while (this.rspCons !== rspProd) {
      if (consumed >= budget) return { kind: 'ok', consumed, more: true };
      this.mem.copyOut(ringSlotOffset(this.rspCons), this.scratch, 0, SLOT_SIZE);
      this.rspCons = (this.rspCons + 1) >>> 0;
      consumed++;
      onResponse(decodeResponse(this.scratch));
    }
    return { kind: 'ok', consumed, more: this.finalCheckForResponses() };
  }

  finalCheckForResponses(): boolean {
    if (this.hasUnconsumed()) return true;
    this.mem.store32Release(SRING.rsp_event, (this.rspCons + 1) >>> 0);
    this.mem.fullBarrier();
    return this.hasUnconsumed();
  }

  private hasUnconsumed(): boolean {
    return this.mem.load32Acquire(SRING.rsp_prod) !== this.rspCons;
  }

  private nextSlot(write: (bytes: Uint8Array, offset: number) => void): void {
    if (this.freeRequests() <= 0) throw new Error('FrontRing: ring full');
    write(this.mem.bytes, ringSlotOffset(this.reqProdPvt));
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }
}
