// How a device answers a frontend that keeps failing: each failure is counted, the first few are
// logged and then only every hundredth (with its count), and after a frontend's own fault the next
// connection is offered after a delay that doubles up to a ceiling. A hostile guest can fail on
// purpose as often as it is let in (a bad ring reference, a broken ring right after connecting), so
// the count survives reconnections: only a connection that stayed up for a while starts it again.
// Pure: the caller passes the time.

/** Delay before the next offer after the first frontend fault, doubling per further fault... */
export const RETRY_BASE_MS = 100;
/** ...up to this. */
export const RETRY_MAX_MS = 5000;
/** Failures logged in full before the lines are thinned... */
export const LOUD_FAILURES = 3;
/** ...to one every this many. */
export const THIN_EVERY = 100;
/** A connection up this long counts as working: its end starts the count again. */
export const HEALTHY_MS = 30_000;

export interface FailureVerdict {
  /** Failures in a row, this one included. */
  readonly count: number;
  /** Whether this failure gets a log line. */
  readonly loud: boolean;
  /** For a frontend's fault: how long to wait (ms) before the next connection is offered. */
  readonly retryAfterMs: number | undefined;
}

export class FailureBackoff {
  private failures = 0;
  private connectedAt: number | undefined;

  /** Failures in a row so far. */
  get count(): number {
    return this.failures;
  }

  /** A connection was made at `now`. */
  connected(now: number): void {
    this.connectedAt = now;
  }

  /** A failure at `now` (of a connection, or of making one); `frontendFault`: the guest's doing. */
  fail(now: number, frontendFault: boolean): FailureVerdict {
    if (this.connectedAt !== undefined && now - this.connectedAt >= HEALTHY_MS) this.failures = 0;
    this.connectedAt = undefined;
    const count = ++this.failures;
    return {
      count,
      loud: count <= LOUD_FAILURES || count % THIN_EVERY === 0,
      retryAfterMs: frontendFault ? Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(10, count - 1)) : undefined,
    };
  }
}
