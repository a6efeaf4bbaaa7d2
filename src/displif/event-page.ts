// The event page (struct xendispl_event_page): backend produces, frontend consumes. 63 slots,
// indexed idx % 63 by both sides. The producer keeps in_prod private and never reads it back; it
// reads the frontend's in_cons only to compute free space, clamping an impossible value to "full".
// The frontend sends no notification when it consumes, so events that do not fit are queued and
// written by the next send or flush(); nothing blocks and nothing is lost silently.
import type { Cookie } from '../util/ids.js';
import { EVT_RING_LEN, EVT_RING_OFFS, SLOT_SIZE } from './constants.js';
import { decodeEvent, writePgFlipEventSlot, type DecodedEvent } from './events.js';
import type { SharedMemory } from './shared-memory.js';
import { EVT_PAGE } from './wire-layout.js';

export function eventSlotOffset(index: number): number {
  return EVT_RING_OFFS + ((index >>> 0) % EVT_RING_LEN) * SLOT_SIZE;
}

export interface ProduceOutcome {
  /** Events written to the page by this call (queued ones included). */
  readonly written: number;
  /** Notify the frontend's event channel: something was written. */
  readonly notify: boolean;
  /** This event did not fit and waits in the queue. */
  readonly queued: boolean;
  /** This event was dropped: the queue was at its limit. */
  readonly dropped: boolean;
  /** in_cons was impossible (ahead of in_prod or more than 63 behind): the frontend misbehaves. */
  readonly frontendLied: boolean;
}

export interface EventProducerStats {
  /** Events on the page so far; equals the next event id modulo 2^16. */
  readonly written: number;
  /** Events waiting for space now. */
  readonly backlog: number;
  /** Events that ever had to wait. */
  readonly queuedTotal: number;
  readonly dropped: number;
  /** Times in_cons was found impossible. */
  readonly frontendLies: number;
}

export interface EventProducerOptions {
  /** Events kept while the page is full; beyond it new events are dropped and counted. */
  readonly queueLimit?: number;
  /** Where in_prod starts: 0 for every real frontend (the page is zeroed); tests start near 2^32. */
  readonly startIndex?: number;
}

export const DEFAULT_EVENT_QUEUE_LIMIT = 256;

/** pgFlip's usual outcome, made once. */
const WROTE_ONE: ProduceOutcome = Object.freeze({
  written: 1,
  notify: true,
  queued: false,
  dropped: false,
  frontendLied: false,
});

export class EventProducer {
  private inProd: number;
  /** Ids go on in page order and only for events actually written, so the frontend never skips one. */
  private nextId = 0;
  private readonly queue: Cookie[] = [];
  private readonly queueLimit: number;
  private written = 0;
  private queuedTotal = 0;
  private dropped = 0;
  private lies = 0;
  /** What the last drain() did: events written, and whether in_cons was impossible. */
  private drained = 0;
  private drainLied = false;

  constructor(
    private readonly mem: SharedMemory,
    opts: EventProducerOptions = {},
  ) {
    this.inProd = (opts.startIndex ?? 0) >>> 0;
    this.queueLimit = opts.queueLimit ?? DEFAULT_EVENT_QUEUE_LIMIT;
  }

  /** Sends XENDISPL_EVT_PG_FLIP for `fbCookie`, behind any events already waiting. */
  pgFlip(fbCookie: Cookie): ProduceOutcome {
    // Nothing waiting and the slot plainly free: one native step writes and publishes it.
    if (this.queue.length === 0 && this.mem.putPgFlipEvent?.(this.inProd, this.nextId, fbCookie)) {
      this.advance();
      return WROTE_ONE;
    }
    const room = this.drain();
    const written = this.drained;
    const lied = this.drainLied;
    if (this.queue.length === 0 && room) {
      this.put(fbCookie);
      // The steady state (nothing waited, the page had room) allocates nothing.
      if (written === 0 && !lied) return WROTE_ONE;
      return { written: written + 1, notify: true, queued: false, dropped: false, frontendLied: lied };
    }
    if (this.queue.length >= this.queueLimit) {
      this.dropped++;
      return { written, notify: written > 0, queued: false, dropped: true, frontendLied: lied };
    }
    this.queue.push(fbCookie);
    this.queuedTotal++;
    return { written, notify: written > 0, queued: true, dropped: false, frontendLied: lied };
  }

  /** Writes as many queued events as now fit. Call it when the frontend may have consumed some. */
  flush(): ProduceOutcome {
    this.drain();
    return {
      written: this.drained,
      notify: this.drained > 0,
      queued: false,
      dropped: false,
      frontendLied: this.drainLied,
    };
  }

  /** Events waiting for space. */
  get backlog(): number {
    return this.queue.length;
  }

  get stats(): EventProducerStats {
    return {
      written: this.written,
      backlog: this.queue.length,
      queuedTotal: this.queuedTotal,
      dropped: this.dropped,
      frontendLies: this.lies,
    };
  }

  /**
   * Writes queued events while they fit, leaving how many in `drained` and whether in_cons was
   * impossible in `drainLied`; true when one more fits after them. in_cons is read once.
   */
  private drain(): boolean {
    const inCons = this.mem.load32Acquire(EVT_PAGE.in_cons);
    const used = (this.inProd - inCons) >>> 0;
    this.drained = 0;
    this.drainLied = used > EVT_RING_LEN;
    if (this.drainLied) {
      this.lies++;
      return false;
    }
    while (this.queue.length > 0 && this.slotFree(inCons)) {
      this.put(this.queue.shift()!);
      this.drained++;
    }
    return this.slotFree(inCons);
  }

  /**
   * Whether the slot of in_prod holds no unconsumed event. Normally that is "fewer than 63
   * outstanding", but idx % 63 jumps from slot 3 back to slot 0 when the u32 index wraps, so across
   * the wrap an unconsumed event can sit in the very slot we are about to fill (docs/PROTOCOL-NOTES.md).
   */
  private slotFree(inCons: number): boolean {
    const used = (this.inProd - inCons) >>> 0;
    if (used >= EVT_RING_LEN) return false;
    if (used === 0 || inCons <= this.inProd) return true;
    const target = eventSlotOffset(this.inProd);
    for (let i = inCons; i !== this.inProd; i = (i + 1) >>> 0) if (eventSlotOffset(i) === target) return false;
    return true;
  }

  private put(fbCookie: Cookie): void {
    writePgFlipEventSlot(this.mem.bytes, eventSlotOffset(this.inProd), this.nextId, fbCookie);
    this.mem.store32Release(EVT_PAGE.in_prod, (this.inProd + 1) >>> 0);
    this.advance();
  }

  /** Counts the event just published at in_prod. */
  private advance(): void {
    this.nextId = (this.nextId + 1) & 0xffff;
    this.inProd = (this.inProd + 1) >>> 0;
    this.written++;
  }
}

export type ConsumeEventsOutcome =
  | { readonly kind: 'ok'; readonly consumed: number }
  | { readonly kind: 'violation'; readonly consumed: number; readonly reason: string };

/** The frontend side, for the simulated frontend and tests. */
export class EventConsumer {
  private inCons: number;
  private readonly scratch = new Uint8Array(SLOT_SIZE);

  constructor(
    private readonly mem: SharedMemory,
    startIndex = 0,
  ) {
    this.inCons = startIndex >>> 0;
  }

  /** Zeroes the page header as a frontend does before granting it (indices at `startIndex`). */
  static init(mem: SharedMemory, startIndex = 0): EventConsumer {
    mem.bytes.fill(0, 0, EVT_RING_OFFS);
    mem.store32Release(EVT_PAGE.in_cons, startIndex >>> 0);
    mem.store32Release(EVT_PAGE.in_prod, startIndex >>> 0);
    return new EventConsumer(mem, startIndex);
  }

  /** Hands every published event to `onEvent`, then publishes in_cons. */
  consume(onEvent: (e: DecodedEvent) => void): ConsumeEventsOutcome {
    const inProd = this.mem.load32Acquire(EVT_PAGE.in_prod);
    const avail = (inProd - this.inCons) >>> 0;
    if (avail > EVT_RING_LEN) {
      return {
        kind: 'violation',
        consumed: 0,
        reason: `in_prod ${inProd} is ${avail} past in_cons ${this.inCons}, more than ${EVT_RING_LEN} slots`,
      };
    }
    let consumed = 0;
    while (this.inCons !== inProd) {
      this.mem.copyOut(eventSlotOffset(this.inCons), this.scratch, 0, SLOT_SIZE);
      this.inCons = (this.inCons + 1) >>> 0;
      consumed++;
      onEvent(decodeEvent(this.scratch));
    }
    if (consumed > 0) this.mem.store32Release(EVT_PAGE.in_cons, this.inCons);
    return { kind: 'ok', consumed };
  }
}
