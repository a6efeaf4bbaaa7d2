// One connector's two channels as Linux xen-drm-front keeps them (xen_drm_front_evtchnl.c):
// the control ring (one request in flight, 3000 ms wait, response matched on id and on an
// operation the driver knows) and the event page (events accepted only with the next id).
//
// Faithful to a detail that matters: the driver fills a request in place in the shared slot,
// setting only the fields of its operation. Whatever the slot held before — the response the
// backend wrote there 32 requests ago, its status included — stays in the other bytes.
import { Op, RING_SIZE, SLOT_SIZE, XEN_EIO, XEN_ETIMEDOUT } from '../../displif/constants.js';
import { EventConsumer } from '../../displif/event-page.js';
import type { DecodedEvent } from '../../displif/events.js';
import { FrontRing } from '../../displif/front-ring.js';
import { ringSlotOffset } from '../../displif/back-ring.js';
import { nativeSharedMemory, type SharedMemory } from '../../displif/shared-memory.js';
import { writeU16 } from '../../displif/bytes.js';
import { LINUX_FE_REQUEST_TIMEOUT_MS } from '../../displif/constants.js';
import type { DomainKernel, OwnPages } from '../domain-kernel.js';
import { crashPoint } from './crash-points.js';

/** XEN_DRM_FRONT_WAIT_BACK_MS */
export const WAIT_BACK_MS = LINUX_FE_REQUEST_TIMEOUT_MS;

const V1_OPS: ReadonlySet<number> = new Set([
  Op.PG_FLIP,
  Op.FB_ATTACH,
  Op.FB_DETACH,
  Op.DBUF_CREATE,
  Op.DBUF_DESTROY,
  Op.SET_CONFIG,
]);

/** What became of a burst of raw requests (a hostile frontend's pipelined requests). */
export interface BurstResult {
  /** Status per request, in the order pushed; undefined where no response came within WAIT_BACK_MS. */
  readonly statuses: readonly (number | undefined)[];
  /** Responses that matched no request of the burst, echoed the wrong operation, or came twice. */
  readonly strays: number;
  /** The backend broke the ring (response index beyond the requests), as the frontend sees it. */
  readonly violation?: string;
}

export interface ChannelObserver {
  request(conn: number, op: number, id: number, status: number, ms: number): void;
  timeout(conn: number, op: number, id: number): void;
  ignoredResponse(conn: number, id: number, operation: number, why: string): void;
  eventDropped(conn: number, expectedId: number, gotId: number): void;
  violation(conn: number, reason: string): void;
}

/** A page of our memory granted (writable) to the backend, with an unbound port for it. */
export interface SharedPage {
  readonly page: OwnPages;
  readonly ref: number;
  readonly port: number;
}

/** xenbus_setup_ring + xenbus_alloc_evtchn: a zeroed page granted to `backend`, and a port. */
export async function setupRing(kernel: DomainKernel, backend: number): Promise<SharedPage> {
  const page = await kernel.allocPages(1);
  let ref: number | undefined;
  try {
    [ref] = await kernel.allocRefs(1);
    kernel.grantAccess(ref!, backend, page.first, false);
    const port = await kernel.allocUnbound(backend);
    return { page, ref: ref!, port };
  } catch (err) {
    page.unmap();
    if (ref !== undefined) kernel.releaseDeferred(page.first, 1, [ref]);
    else kernel.freePages(page.first, 1);
    throw err;
  }
}

/** evtchnl_free for one page: port closed, access ended (deferred while mapped), page freed. */
export function teardownRing(kernel: DomainKernel, s: SharedPage): void {
  kernel.closePort(s.port);
  s.page.unmap();
  kernel.releaseDeferred(s.page.first, 1, [s.ref]);
}

export class CtrlChannel {
  connected = false;
  private readonly mem: SharedMemory;
  private readonly ring: FrontRing;
  /** Index of the next slot we fill (req_prod_pvt). */
  private reqIndex = 0;
  private nextId = 0;
  /** The id of the request in flight (evt_id). */
  private currentId = 0;
  private lock: Promise<void> = Promise.resolve();
  private waiter: ((status: number) => void) | undefined;
  /** Not the driver's rule: a hostile program takes any response with its id (no 3 s waits for unknown ops). */
  private anyOperation = false;
  /** While a burst is out, every response goes to it instead of the one-request path. */
  private burstSink: ((id: number, operation: number, status: number) => void) | undefined;
  private burstViolation: ((reason: string) => void) | undefined;
  /** Ends a burst at once when the channel is freed (its device went away). */
  private burstEnd: (() => void) | undefined;
  /** Requests whose response never came within WAIT_BACK_MS (the driver's -ETIMEDOUT). */
  unanswered = 0;
  private freed = false;

  constructor(
    readonly kernel: DomainKernel,
    readonly shared: SharedPage,
    readonly conn: number,
    private readonly observer: ChannelObserver,
  ) {
    this.mem = nativeSharedMemory(shared.page.bytes);
    this.ring = FrontRing.init(this.mem);
    kernel.hv.listen(shared.port, () => this.onEvent());
  }

  /** The shared ring page, for a hostile frontend that writes it directly. */
  get sharedMemory(): SharedMemory {
    return this.mem;
  }

  /**
   * Sends one request and waits for its response: be_prepare_req + be_stream_do_io +
   * be_stream_wait_io under the channel's mutex. Resolves to the status the ioctl returns.
   */
  request(op: number, fill: (slot: Uint8Array) => void, opts: { anyOperation?: boolean } = {}): Promise<number> {
    const run = async (): Promise<number> => {
      this.anyOperation = opts.anyOperation ?? false;
      // Prepare in place: operation and id, then the operation's own fields.
      const slot = this.mem.bytes.subarray(ringSlotOffset(this.reqIndex), ringSlotOffset(this.reqIndex) + SLOT_SIZE);
      slot[2] = op;
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xffff;
      writeU16(slot, 0, id);
      this.currentId = id;
      fill(slot);
      if (!this.connected) return -XEN_EIO;
      const started = performance.now();
      const status = await new Promise<number>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          this.unanswered++;
          this.observer.timeout(this.conn, op, id);
          resolve(-XEN_ETIMEDOUT);
        }, WAIT_BACK_MS);
        this.waiter = (s) => {
          clearTimeout(timer);
          this.waiter = undefined;
          crashPoint('response-received', op);
          resolve(s);
        };
        this.push();
        crashPoint('request-pushed', op);
      });
      if (status !== -XEN_ETIMEDOUT) this.observer.request(this.conn, op, id, status, performance.now() - started);
      return status;
    };
    const result = this.lock.then(run);
    this.lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Publishes a hand-written slot without waiting (hostile frontends). */
  pushRaw(slot: Uint8Array): boolean {
    if (this.ring.freeRequests() <= 0) return false;
    this.ring.writeRawRequest(slot);
    this.reqIndex = (this.reqIndex + 1) >>> 0;
    const notify = this.ring.pushRequests();
    if (notify) this.kernel.notify(this.shared.port);
    return true;
  }

  /**
   * Not the driver's way: a hostile program fills the ring with `slots` at once (each gets its own
   * id over bytes 0..1; the rest is sent as given) and waits for the responses, each at most
   * WAIT_BACK_MS after the one before. Runs under the channel's lock, after any request in flight.
   */
  burst(slots: readonly Uint8Array[]): Promise<BurstResult> {
    const run = async (): Promise<BurstResult> => {
      const n = Math.min(slots.length, this.ring.freeRequests());
      const ids = new Map<number, { index: number; operation: number }>();
      const statuses: (number | undefined)[] = new Array<number | undefined>(n).fill(undefined);
      if (!this.connected || n === 0) return { statuses, strays: 0 };
      let strays = 0;
      let left = n;
      let violation: string | undefined;
      const done = new Promise<void>((resolve) => {
        // The backend answers in ring order, one slow request at a time: like the driver's
        // one-request wait, give up only after WAIT_BACK_MS without any answer.
        let timer = setTimeout(resolve, WAIT_BACK_MS);
        this.burstSink = (id, operation, status) => {
          const want = ids.get(id);
          if (!want || want.operation !== operation || statuses[want.index] !== undefined) {
            strays++;
            return;
          }
          statuses[want.index] = status;
          clearTimeout(timer);
          if (--left === 0) resolve();
          else timer = setTimeout(resolve, WAIT_BACK_MS);
        };
        this.burstViolation = (reason) => {
          violation = reason;
          clearTimeout(timer);
          resolve();
        };
        this.burstEnd = () => {
          clearTimeout(timer);
          resolve();
        };
        for (let i = 0; i < n; i++) {
          const slot = Uint8Array.from(slots[i]!.subarray(0, SLOT_SIZE));
          const id = this.nextId;
          this.nextId = (this.nextId + 1) & 0xffff;
          writeU16(slot, 0, id);
          ids.set(id, { index: i, operation: slot[2]! });
          this.ring.writeRawRequest(slot);
          this.reqIndex = (this.reqIndex + 1) >>> 0;
        }
        if (this.ring.pushRequests()) this.kernel.notify(this.shared.port);
      });
      await done;
      this.burstSink = undefined;
      this.burstViolation = undefined;
      this.burstEnd = undefined;
      return violation === undefined ? { statuses, strays } : { statuses, strays, violation };
    };
    const result = this.lock.then(run);
    this.lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Requests queued in the ring and not yet answered. */
  get outstanding(): number {
    return RING_SIZE - this.ring.freeRequests();
  }

  /** evtchnl_free: whoever waits gets -EIO, the port and the page go. Idempotent. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.connected = false;
    this.waiter?.(-XEN_EIO);
    this.burstEnd?.();
    teardownRing(this.kernel, this.shared);
  }

  private push(): void {
    // The slot is already filled in place; re-writing it through the ring advances req_prod_pvt.
    const slot = this.mem.bytes.slice(ringSlotOffset(this.reqIndex), ringSlotOffset(this.reqIndex) + SLOT_SIZE);
    this.ring.writeRawRequest(slot);
    this.reqIndex = (this.reqIndex + 1) >>> 0;
    if (this.ring.pushRequests()) this.kernel.notify(this.shared.port);
  }

  /** evtchnl_interrupt_ctrl */
  private onEvent(): void {
    if (!this.connected || this.freed) return;
    const outcome = this.ring.consumeResponses(RING_SIZE, (r) => {
      if (this.burstSink) {
        this.burstSink(r.id, r.operation, r.status);
        return;
      }
      if (r.id !== this.currentId) {
        this.observer.ignoredResponse(this.conn, r.id, r.operation, 'id is not the request in flight');
        return;
      }
      if (!V1_OPS.has(r.operation) && !this.anyOperation) {
        // Linux logs "Operation %d is not supported" and keeps waiting: the request times out.
        this.observer.ignoredResponse(this.conn, r.id, r.operation, 'operation not echoed');
        return;
      }
      if (!this.waiter) {
        this.observer.ignoredResponse(this.conn, r.id, r.operation, 'nobody waits (late response)');
        return;
      }
      this.waiter(r.status);
    });
    if (outcome.kind === 'violation') {
      this.burstViolation?.(outcome.reason);
      this.observer.violation(this.conn, outcome.reason);
    } else if (outcome.more) queueMicrotask(() => this.onEvent());
  }
}

export class EvtChannel {
  connected = false;
  private readonly mem: SharedMemory;
  private readonly consumer: EventConsumer;
  /** The id the next event must carry (evt_id, u16). */
  private expectedId = 0;
  private freed = false;

  constructor(
    readonly kernel: DomainKernel,
    readonly shared: SharedPage,
    readonly conn: number,
    private readonly observer: ChannelObserver,
    private readonly onEventReceived: (e: DecodedEvent) => void,
  ) {
    this.mem = nativeSharedMemory(shared.page.bytes);
    this.consumer = EventConsumer.init(this.mem);
    kernel.hv.listen(shared.port, () => this.onEvent());
  }

  get sharedMemory(): SharedMemory {
    return this.mem;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.connected = false;
    teardownRing(this.kernel, this.shared);
  }

  /** evtchnl_interrupt_evt */
  private onEvent(): void {
    if (!this.connected || this.freed) return;
    const outcome = this.consumer.consume((e) => {
      crashPoint('event-received');
      const want = this.expectedId;
      this.expectedId = (this.expectedId + 1) & 0xffff;
      if (e.id !== want) {
        this.observer.eventDropped(this.conn, want, e.id);
        return;
      }
      this.onEventReceived(e);
    });
    if (outcome.kind === 'violation') this.observer.violation(this.conn, outcome.reason);
  }
}
