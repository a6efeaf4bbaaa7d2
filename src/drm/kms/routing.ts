// How each guest framebuffer of one output reaches the screen: zero-copy (the guest's pages
// imported and placed by a plane, where the committer can show that placement) or copied into the
// output's back buffer. Remembers the route per framebuffer for status and snapshots, and the
// framebuffers the driver refused at commit time, which are copied from then on.
import { isNativeError } from '../../native/errors.js';
import type { FramebufferDesc, ScanoutPath } from '../output.js';
import type { Committer, ScanoutState } from './commit.js';
import { copyRegion } from './copy.js';
import type { FallbackStats } from './fallbacks.js';
import type { Active } from './output-state.js';
import type { Placement } from './placement.js';
import type { ScanoutPlan, ZeroCopyImporter } from './zero-copy.js';

export type Route =
  { readonly path: 'zero-copy'; readonly state: ScanoutState } | { readonly path: 'copy'; readonly reason: string };

interface Routed {
  readonly path: Route['path'];
  readonly reason?: string;
  /** Where the framebuffer's picture lands on the mode. */
  readonly placement: Placement;
}

export interface RouterDeps {
  readonly committer: Committer;
  readonly importer: ZeroCopyImporter;
  readonly stats: FallbackStats;
  /** The output's configuration now (read after each await: it may change meanwhile). */
  readonly active: () => Active | undefined;
}

export class Router {
  private readonly routes = new Map<number, Routed>();
  /** Framebuffers the driver refused at modeset or flip time: copied from then on. */
  private readonly forcedCopy = new Map<number, string>();
  private copied = 0;

  constructor(private readonly d: RouterDeps) {}

  /** Guest bytes the copy path has read (rows × row bytes). */
  get copiedBytes(): number {
    return this.copied;
  }

  /** Zero-copy where the importer can import `fb` and the committer can show a placement of it. */
  async route(fb: FramebufferDesc): Promise<Route> {
    let plan: ScanoutPlan;
    try {
      plan = await this.d.importer.plan(fb);
    } catch (err) {
      plan = { kind: 'copy', reason: `import failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    const a = this.d.active();
    if (!a) return { path: 'copy', reason: 'output disabled' };
    const forced = this.forcedCopy.get(fb.id);
    if (forced !== undefined) return this.remember(fb, a, { path: 'copy', reason: forced });
    if (plan.kind === 'copy') return this.remember(fb, a, { path: 'copy', reason: plan.reason });
    for (const placement of a.candidates) {
      const state: ScanoutState = { pipe: a.pipe, mode: a.choice.mode, fbId: plan.fbId, placement };
      if (this.d.committer.canShow(state)) return this.remember(fb, a, { path: 'zero-copy', state });
    }
    const reason = this.d.committer.refusal;
    this.d.stats.count(reason);
    return this.remember(fb, a, { path: 'copy', reason });
  }

  /**
   * The driver refused `fb` zero-copy at commit time (`what`: modeset or flip): it is copied from
   * now on. Returns the copy route to commit instead.
   */
  refused(fb: FramebufferDesc, a: Active, what: string, err: unknown): Route {
    const reason = `${what} refused the guest's framebuffer (${isNativeError(err) ? err.code : 'error'})`;
    this.d.stats.count(reason);
    this.forcedCopy.set(fb.id, reason);
    this.routes.set(fb.id, { path: 'copy', reason, placement: a.copyPlacement });
    return { path: 'copy', reason: `${what} refused` };
  }

  /** The state to commit; for the copy path this copies the guest's pixels into the back buffer now. */
  stateFor(fb: FramebufferDesc, route: Route, a: Active): ScanoutState {
    if (route.path === 'zero-copy') return route.state;
    const back = a.buffers.back();
    const p = a.copyPlacement;
    const key = `${p.dst.x},${p.dst.y},${p.dst.width},${p.dst.height}`;
    if (back.clearedFor !== key) {
      back.target.bytes.fill(0);
      back.clearedFor = key;
    }
    const limit = Math.min(fb.buffer.size, fb.buffer.bytes.length);
    const r = copyRegion(
      { bytes: fb.buffer.bytes, limit, offset: fb.offset, pitch: fb.pitch, fourcc: fb.fourcc },
      p.src,
      back.target,
      p.dst.x,
      p.dst.y,
    );
    this.copied += r.bytes;
    if (r.truncated) this.d.stats.count('the guest buffer is shorter than its framebuffer (shown as far as granted)');
    const full = { x: 0, y: 0, width: a.buffers.width, height: a.buffers.height };
    return {
      pipe: a.pipe,
      mode: a.choice.mode,
      fbId: back.fbId,
      placement: { src: full, dst: full, scaled: false, fullScreen: true },
    };
  }

  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    const r = this.routes.get(fb.id);
    if (!r) return { path: 'none' };
    // Internally a route is zero-copy or copy; outside, the operator's words (ScanoutPath).
    return r.path === 'zero-copy' ? { path: 'dma-buf' } : { path: 'copied', reason: r.reason };
  }

  placementOf(fb: FramebufferDesc): Placement | undefined {
    return this.routes.get(fb.id)?.placement;
  }

  forget(fb: FramebufferDesc): void {
    this.routes.delete(fb.id);
    this.forcedCopy.delete(fb.id);
  }

  private remember(fb: FramebufferDesc, a: Active, r: Route): Route {
    this.routes.set(
      fb.id,
      r.path === 'zero-copy'
        ? { path: 'zero-copy', placement: r.state.placement }
        : { path: 'copy', reason: r.reason, placement: a.copyPlacement },
    );
    return r;
  }
}
