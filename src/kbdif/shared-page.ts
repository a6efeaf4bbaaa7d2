// The shared page of a vkbd device, both ends. The backend (InRingProducer) owns in_prod and
// out_cons; the frontend owns in_cons and out_prod. Every index the other side owns is read once
// per pass and checked before use: an in_cons ahead of in_prod or more than a ring behind, or an
// out event at all (the header defines none and calls receiving an unknown one an error), is a
// protocol violation the caller turns into closing that device.
//
// Input must not wait: what does not fit is queued up to a bound, pointer motion is coalesced into
// the last queued event of its kind, and beyond the bound events are dropped and counted. Linux
// notifies the backend after it consumes, so the queue drains on the frontend's event.
import { IN_EVENT_SIZE, IN_RING_LEN, IN_RING_OFFS } from './constants.js';
import { decodeEvent, encodeEvent, type DecodedKbdEvent, type KbdEvent } from './events.js';
import type { SharedMemory } from '../displif/shared-memory.js';
import { KBD_PAGE } from './wire-layout.js';

export function inSlotOffset(index: number): number {
  return IN_RING_OFFS + ((index >>> 0) % IN_RING_LEN) * IN_EVENT_SIZE;
}

/** Whether an unconsumed index before the 2^32 wrap (inCons .. 2^32-1) uses the slot of `idx` (after it). */
function slotHoldsUnconsumed(idx: number, inCons: number): boolean {
  const slot = idx % IN_RING_LEN;
  for (let j = inCons; j <= 0xffffffff; j++) if (j % IN_RING_LEN === slot) return true;
  return false;
}

export const DEFAULT_INPUT_QUEUE_LIMIT = 256;

export interface InRingStats {
  /** Events written to the ring. */
  readonly written: number;
  /** Events waiting for room now. */
  readonly backlog: number;
  /** Pointer events merged into a queued one instead of queueing. */
  readonly coalesced: number;
  /** Events dropped because the queue was full. */
  readonly dropped: number;
}

export interface SendOutcome {
  /** The frontend's event channel should be notified: the ring has new events. */
  readonly notify: boolean;
  /** Set when the frontend broke the protocol; the device must be closed. */
  readonly violation?: string;
}

export class InRingProducer {
  private inProd: number;
  private readonly outBase: number;
  private readonly queue: KbdEvent[] = [];
  private readonly scratch = new Uint8Array(IN_EVENT_SIZE);
  private written = 0;
  private coalesced = 0;
  private dropped = 0;

  /**
   * Takes over a page the frontend set up: Linux zeroes it, but after a backend restart it holds the
   * last connection's indices, so production continues from the frontend's in_cons (an old
   * backend's unconsumed events are abandoned) and the out-ring baseline is its out_prod now.
   */
  constructor(
    private readonly mem: SharedMemory,
    private readonly queueLimit = DEFAULT_INPUT_QUEUE_LIMIT,
  ) {
    this.inProd = mem.load32Acquire(KBD_PAGE.in_cons);
    mem.store32Release(KBD_PAGE.in_prod, this.inProd);
    this.outBase = mem.load32Acquire(KBD_PAGE.out_prod);
    mem.store32Release(KBD_PAGE.out_cons, this.outBase);
  }

  get stats(): InRingStats {
    return { written: this.written, backlog: this.queue.length, coalesced: this.coalesced, dropped: this.dropped };
  }

  /** Queues `events` behind any waiting ones and writes what fits. */
  send(events: readonly KbdEvent[]): SendOutcome {
    let notify = false;
    for (const ev of events) {
      // The ring takes what it can before the queue's bound decides what is merged or dropped.
      if (this.queue.length >= this.queueLimit) {
        const r = this.flush();
        if (r.violation !== undefined) return r;
        notify ||= r.notify;
      }
      this.enqueue(ev);
    }
    const r = this.flush();
    return r.violation !== undefined ? r : { notify: notify || r.notify };
  }

  /** Writes what fits of the queue and checks the frontend's indices; call on its notification. */
  flush(): SendOutcome {
    const outProd = this.mem.load32Acquire(KBD_PAGE.out_prod);
    if (outProd !== this.outBase)
      return {
        notify: false,
        violation: `out_prod moved from ${this.outBase} to ${outProd}: the protocol defines no out event`,
      };
    if (this.queue.length === 0) return { notify: false };
    const inCons = this.mem.load32Acquire(KBD_PAGE.in_cons);
    const used = (this.inProd - inCons) >>> 0;
    if (used > IN_RING_LEN)
      return { notify: false, violation: `in_cons ${inCons} is impossible with in_prod ${this.inProd}` };
    let room = IN_RING_LEN - used;
    let n = 0;
    while (room > 0 && n < this.queue.length) {
      const idx = (this.inProd + n) >>> 0;
      // 2^32 % 51 = 1: index 2^32-1 and index 0 share slot 0. Across the wrap, wait until it is consumed.
      if (idx < inCons && slotHoldsUnconsumed(idx, inCons)) break;
      // Encoded privately, then copied: the guest may read the slot while we write it, never a half-made event of ours.
      encodeEvent(this.queue[n]!, this.scratch);
      this.mem.bytes.set(this.scratch, inSlotOffset(idx));
      n++;
      room--;
    }
    if (n === 0) return { notify: false };
    this.queue.splice(0, n);
    this.inProd = (this.inProd + n) >>> 0;
    this.mem.store32Release(KBD_PAGE.in_prod, this.inProd);
    this.written += n;
    return { notify: true };
  }

  private enqueue(ev: KbdEvent): void {
    if (this.queue.length < this.queueLimit) {
      this.queue.push(ev);
      return;
    }
    const last = this.queue[this.queue.length - 1];
    if (last && last.kind === 'pos' && ev.kind === 'pos' && ev.relZ === 0) {
      this.queue[this.queue.length - 1] = { ...ev, relZ: last.relZ };
      this.coalesced++;
    } else if (last && last.kind === 'motion' && ev.kind === 'motion') {
      const sum = (a: number, b: number): number => Math.max(-0x80000000, Math.min(0x7fffffff, a + b));
      this.queue[this.queue.length - 1] = {
        kind: 'motion',
        relX: sum(last.relX, ev.relX),
        relY: sum(last.relY, ev.relY),
        relZ: sum(last.relZ, ev.relZ),
      };
      this.coalesced++;
    } else {
      this.dropped++;
    }
  }
}

/** The frontend's end (the simulator's guests): consumes the in-ring as Linux's input handler does. */
export class InRingConsumer {
  constructor(private readonly mem: SharedMemory) {}

  /**
   * Every event between in_cons and in_prod, then in_cons moved past them. A backend that claims
   * more than a ring's worth is reported instead of trusted (Linux would read stale slots).
   */
  consume(): { events: DecodedKbdEvent[]; violation?: string } {
    const prod = this.mem.load32Acquire(KBD_PAGE.in_prod);
    const cons = this.mem.load32Acquire(KBD_PAGE.in_cons);
    const avail = (prod - cons) >>> 0;
    if (avail > IN_RING_LEN)
      return { events: [], violation: `in_prod ${prod} is more than ${IN_RING_LEN} ahead of in_cons ${cons}` };
    const events: DecodedKbdEvent[] = [];
    const slot = new Uint8Array(IN_EVENT_SIZE);
    for (let i = 0; i < avail; i++) {
      this.mem.copyOut(inSlotOffset(cons + i), slot, 0, IN_EVENT_SIZE);
      events.push(decodeEvent(slot));
    }
    this.mem.fullBarrier();
    this.mem.store32Release(KBD_PAGE.in_cons, prod);
    return { events };
  }
}
