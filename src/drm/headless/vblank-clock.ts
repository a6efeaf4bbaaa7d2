// A virtual vblank: instants t0 + k * period at the mode's refresh rate. It arms a timer only while
// someone waits for the next vblank, so idle outputs cost nothing, and it schedules from the
// absolute grid, so timer lateness never accumulates into drift.

export class VblankClock {
  private readonly periodNs: bigint;
  private readonly t0 = process.hrtime.bigint();
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<(timestampNs: bigint, sequence: number) => void> = [];
  private closed = false;

  constructor(refreshMilliHz: number) {
    if (!(refreshMilliHz > 0)) throw new RangeError(`vblank clock: refresh ${refreshMilliHz} mHz`);
    this.periodNs = BigInt(Math.round(1e12 / refreshMilliHz));
  }

  get periodMs(): number {
    return Number(this.periodNs) / 1e6;
  }

  /** Vblanks elapsed since the clock started. */
  sequenceAt(nowNs: bigint): number {
    return Number((nowNs - this.t0) / this.periodNs);
  }

  /** Calls `cb` once at the next vblank (all waiters of one vblank in the order they asked). */
  next(cb: (timestampNs: bigint, sequence: number) => void): void {
    if (this.closed) return;
    this.waiters.push(cb);
    if (!this.timer) this.arm();
  }

  /** Forgets every waiter and stops the timer; idempotent. The clock may be used again after. */
  cancel(): void {
    this.waiters = [];
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Idempotent; no callback after it returns. */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  private arm(): void {
    const now = process.hrtime.bigint();
    const at = this.t0 + BigInt(this.sequenceAt(now) + 1) * this.periodNs;
    this.timer = setTimeout(() => this.fire(at), Math.max(0, Number(at - now) / 1e6));
  }

  private fire(at: bigint): void {
    this.timer = undefined;
    const now = process.hrtime.bigint();
    // setTimeout may fire a little early (ms rounding): wait for the grid instant itself.
    if (now < at) {
      this.timer = setTimeout(() => this.fire(at), Math.max(1, Number(at - now) / 1e6));
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    // A late timer reports the vblank it was armed for; waiters added in the callbacks re-arm
    // through next() for the one after.
    const sequence = this.sequenceAt(at);
    for (const w of waiters) w(at, sequence);
  }
}
