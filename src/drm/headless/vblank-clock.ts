// A virtual vblank: instants t0 + k * period at the mode's refresh rate. Every headless output of
// one refresh rate ticks on the same grid, like CRTCs genlocked to one clock: one timer wakes the
// process once per vblank for all of them (not once per output), and the flip events of that
// vblank leave together. A timer is armed only while some output waits for a vblank, so idle
// outputs cost nothing, and it is scheduled from the absolute grid, so timer lateness never
// accumulates into drift.

type Waiter = (timestampNs: bigint, sequence: number) => void;

/** The grid shared by every clock of one period, with the one timer they need. */
class Timeline {
  readonly t0 = process.hrtime.bigint();
  private timer: NodeJS.Timeout | undefined;
  /** Clocks waiting for the next vblank, in the order they asked. */
  private readonly waiting = new Set<VblankClock>();

  constructor(readonly periodNs: bigint) {}

  sequenceAt(nowNs: bigint): number {
    return Number((nowNs - this.t0) / this.periodNs);
  }

  want(c: VblankClock): void {
    this.waiting.add(c);
    if (!this.timer) this.arm();
  }

  drop(c: VblankClock): void {
    this.waiting.delete(c);
    if (this.waiting.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(): void {
    const now = process.hrtime.bigint();
    const at = this.t0 + BigInt(this.sequenceAt(now) + 1) * this.periodNs;
    // Whole milliseconds, rounded up: a fractional delay fired early often enough that almost every
    // vblank took a second wake-up (437 timer callbacks for 240 vblanks at 60 Hz; 245 rounded up,
    // events 0.1 ms later on average).
    this.timer = setTimeout(() => this.fire(at), Math.ceil(Number(at - now) / 1e6));
  }

  private fire(at: bigint): void {
    this.timer = undefined;
    const now = process.hrtime.bigint();
    // The loop's clock is in whole milliseconds: should it still fire early, wait for the grid instant itself.
    if (now < at) {
      this.timer = setTimeout(() => this.fire(at), Math.max(1, Math.ceil(Number(at - now) / 1e6)));
      return;
    }
    const clocks = [...this.waiting];
    this.waiting.clear();
    // A late timer reports the vblank it was armed for; clocks asking again in their callbacks
    // re-arm the timer for the one after.
    const sequence = this.sequenceAt(at);
    for (const c of clocks) {
      // Cancelled and asked again by an earlier callback of this vblank: it waits for the next one.
      if (this.waiting.has(c)) continue;
      c.tick(at, sequence);
    }
  }
}

const timelines = new Map<bigint, Timeline>();

export class VblankClock {
  private readonly timeline: Timeline;
  /** Two arrays taking turns, so asking for vblanks allocates nothing once they have grown. */
  private waiters: Waiter[] = [];
  private spare: Waiter[] = [];
  private closed = false;

  constructor(refreshMilliHz: number) {
    if (!(refreshMilliHz > 0)) throw new RangeError(`vblank clock: refresh ${refreshMilliHz} mHz`);
    const periodNs = BigInt(Math.round(1e12 / refreshMilliHz));
    let t = timelines.get(periodNs);
    if (!t) timelines.set(periodNs, (t = new Timeline(periodNs)));
    this.timeline = t;
  }

  get periodMs(): number {
    return Number(this.timeline.periodNs) / 1e6;
  }

  /** Vblanks elapsed on the grid since it started. */
  sequenceAt(nowNs: bigint): number {
    return this.timeline.sequenceAt(nowNs);
  }

  /** Calls `cb` once at the next vblank (all waiters of one vblank in the order they asked). */
  next(cb: Waiter): void {
    if (this.closed) return;
    this.waiters.push(cb);
    if (this.waiters.length === 1) this.timeline.want(this);
  }

  /** Forgets every waiter; idempotent. The clock may be used again after. */
  cancel(): void {
    empty(this.waiters);
    this.timeline.drop(this);
  }

  /** Idempotent; no callback after it returns. */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  /** The timeline's vblank: runs this clock's waiters. */
  tick(timestampNs: bigint, sequence: number): void {
    const waiters = this.waiters;
    // Waiters asking again from their callbacks go into the other array, for the next vblank.
    this.waiters = this.spare;
    this.spare = waiters;
    for (const w of waiters) w(timestampNs, sequence);
    empty(waiters);
  }
}

/** Empties `a` keeping its storage: V8 drops the storage on `length = 0`, and pop() keeps it. */
function empty(a: unknown[]): void {
  while (a.length > 0) a.pop();
}
