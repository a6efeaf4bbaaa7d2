// One output's flips: at most one in flight (committed, waiting for its DRM event) and one queued
// behind it, the newer replacing the older as a display engine does at a vblank. A modeset holds
// the queue (flips wait instead of racing it) and first settles the flip in flight, waiting a
// bounded time for its event. Knows nothing of DRM: the output commits what `start` hands it.
import type { FlipResult, FramebufferDesc, PlaneLayer } from '../output.js';

export interface Flip {
  readonly fb: FramebufferDesc;
  readonly done: (r: FlipResult) => void;
  /** Guest framebuffers on the overlay planes with it (absent: the planes are left as they are). */
  readonly layers?: readonly PlaneLayer[];
  /** Set once committed: the DRM event's user data, and the framebuffer the CRTC will show. */
  token?: number;
  fbId?: number;
}

/** How long a modeset waits for a flip in flight before going ahead anyway. */
const SETTLE_MS = 200;

export interface FlipQueueDeps {
  /** Commits `f`, which is in flight from now on; a failure comes back through fail(). */
  readonly start: (f: Flip) => void;
  /** Whether a queued flip may be started now (the output is on). */
  readonly canStart: () => boolean;
  /** The token of an abandoned flip will never be matched: give it back. */
  readonly forgetToken: (token: number) => void;
}

export class FlipQueue {
  private current: Flip | undefined;
  private next: Flip | undefined;
  private holds = 0;
  private settleWaiters: (() => void)[] = [];

  constructor(private readonly d: FlipQueueDeps) {}

  get inflight(): Flip | undefined {
    return this.current;
  }

  /** Whether `fbId` is being scanned out soon (in flight). */
  isInflight(fbId: number): boolean {
    return this.current?.fb.id === fbId;
  }

  /** The flip waiting behind the one in flight (or the modeset), if any. */
  get queued(): Flip | undefined {
    return this.next;
  }

  isQueued(fbId: number): boolean {
    return this.next?.fb.id === fbId;
  }

  /** A new flip: started now, or queued behind the one in flight or the modeset in progress. */
  offer(f: Flip): void {
    if (this.current || this.holds > 0) this.replaceQueued(f, 'replaced by a newer flip before the vblank');
    else this.begin(f);
  }

  /** The DRM event carrying `token`: the flip it completes, now no longer in flight. */
  complete(token: number): Flip | undefined {
    const f = this.current;
    if (!f || f.token !== token) return undefined;
    this.current = undefined;
    this.d.forgetToken(token);
    return f;
  }

  /** `f` could not be committed: it is no longer in flight (its `done` is the caller's). */
  failed(f: Flip): void {
    if (this.current === f) this.current = undefined;
  }

  /** Whether `f` is still the flip in flight (not abandoned meanwhile). */
  owns(f: Flip): boolean {
    return this.current === f;
  }

  /** After a flip ended or a modeset finished: wakes a settling modeset, starts the queued flip. */
  advance(): void {
    for (const w of this.settleWaiters.splice(0)) w();
    const next = this.next;
    if (next && !this.current && this.holds === 0 && this.d.canStart()) {
      this.next = undefined;
      this.begin(next);
    }
  }

  /** Drops the queued flip, and the one in flight, with `reason`. */
  dropAll(reason: string): void {
    this.abandonInflight(reason);
    this.replaceQueued(undefined, reason);
  }

  /** Drops the queued flip if it shows `fbId`. */
  dropQueued(fbId: number, reason: string): void {
    if (this.isQueued(fbId)) this.replaceQueued(undefined, reason);
  }

  /**
   * A modeset begins: flips queue until endModeset, and the promise resolves once the flip in
   * flight has completed (or was given up after SETTLE_MS). Every call is paired with endModeset.
   */
  beginModeset(): Promise<void> {
    this.holds++;
    return this.settle();
  }

  /** The caller then calls advance(), which starts the flip that queued meanwhile. */
  endModeset(): void {
    this.holds--;
  }

  private begin(f: Flip): void {
    this.current = f;
    this.d.start(f);
  }

  private replaceQueued(f: Flip | undefined, reason: string): void {
    const old = this.next;
    this.next = f;
    if (old) queueMicrotask(() => old.done({ shown: false, reason }));
  }

  private abandonInflight(reason: string): void {
    const f = this.current;
    if (!f) return;
    this.current = undefined;
    if (f.token !== undefined) this.d.forgetToken(f.token);
    queueMicrotask(() => f.done({ shown: false, reason }));
    for (const w of this.settleWaiters.splice(0)) w();
  }

  private settle(): Promise<void> {
    if (!this.current) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.abandonInflight('replaced by a modeset');
        resolve();
      }, SETTLE_MS);
      this.settleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
