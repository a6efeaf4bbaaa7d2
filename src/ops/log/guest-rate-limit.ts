// A noisy guest cannot flood the log: each domain's lines pass through a token bucket (a burst,
// then a steady rate); what it drops is counted and reported in one line when the domain may speak
// again. The daemon's own lines (no domain) are never limited. Pure: the clock is passed in.

export interface RateLimitOptions {
  /** Lines a domain may log at once. */
  readonly burst: number;
  /** Lines per second after the burst. */
  readonly perSecond: number;
  /** Domains tracked at once; idle full buckets are forgotten beyond it. */
  readonly maxDomains?: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { burst: 50, perSecond: 5, maxDomains: 4096 };

export type Verdict =
  | { readonly pass: false }
  /** `suppressed` lines were dropped since this domain last passed (report them first). */
  | { readonly pass: true; readonly suppressed: number };

interface Bucket {
  tokens: number;
  atMs: number;
  suppressed: number;
}

export class GuestRateLimit {
  private readonly buckets = new Map<number, Bucket>();
  private droppedTotal = 0;

  constructor(private readonly opts: RateLimitOptions = DEFAULT_RATE_LIMIT) {
    if (!(opts.burst >= 1 && opts.perSecond > 0)) throw new RangeError('rate limit: burst >= 1 and perSecond > 0');
  }

  /** Lines dropped since start, for metrics. */
  get dropped(): number {
    return this.droppedTotal;
  }

  get tracked(): number {
    return this.buckets.size;
  }

  check(domid: number | undefined, nowMs: number): Verdict {
    if (domid === undefined) return { pass: true, suppressed: 0 };
    let b = this.buckets.get(domid);
    if (!b) {
      this.evictIfFull(nowMs);
      b = { tokens: this.opts.burst, atMs: nowMs, suppressed: 0 };
      this.buckets.set(domid, b);
    }
    this.refill(b, nowMs);
    if (b.tokens < 1) {
      b.suppressed++;
      this.droppedTotal++;
      return { pass: false };
    }
    b.tokens -= 1;
    const suppressed = b.suppressed;
    b.suppressed = 0;
    return { pass: true, suppressed };
  }

  private refill(b: Bucket, nowMs: number): void {
    const dt = Math.max(0, nowMs - b.atMs);
    b.tokens = Math.min(this.opts.burst, b.tokens + (dt * this.opts.perSecond) / 1000);
    b.atMs = nowMs;
  }

  private evictIfFull(nowMs: number): void {
    const max = this.opts.maxDomains ?? 4096;
    if (this.buckets.size < max) return;
    for (const [d, b] of this.buckets) {
      this.refill(b, nowMs);
      if (b.tokens >= this.opts.burst && b.suppressed === 0) this.buckets.delete(d);
    }
    // Still full of busy domains: forget the oldest (its next line starts a fresh bucket).
    if (this.buckets.size >= max) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
