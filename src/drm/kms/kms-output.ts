// One guest connector on one real connector: a CRTC of its own, the mode chosen for the guest's
// screen, and every guest framebuffer shown zero-copy where the card accepts it or copied into our
// double-buffered dumb buffers where it does not. Flip completion (the DRM event) is what calls
// `done`; losing DRM master pauses scanout without failing the guest, regaining it restores it.
import type { Logger } from '../../util/log.js';
import { isNativeError } from '../../native/errors.js';
import type { DrmFlipEvent, DrmModeInfo, NativeDrmDevice } from '../../native/drm-device.js';
import type { FlipResult, Frame, FramebufferDesc, Mode, Output, OutputConfig, ScanoutPath } from '../output.js';
import { drawRegion } from '../headless/pixel-convert.js';
import type { Committer, ScanoutState } from './commit.js';
import { copyRegion } from './copy.js';
import { EACCES, EINVAL, ENODEV, EPERM, KmsError } from './errors.js';
import type { FallbackStats } from './fallbacks.js';
import { formatByFourcc } from '../../displif/formats.js';
import { describeMode, selectMode, toMode, type ModeChoice } from './modes.js';
import { centredPlacement, guestScreen, scaledPlacement, type Placement } from './placement.js';
import { ScanoutBuffers } from './scanout-buffers.js';
import type { Pipe } from './topology.js';
import type { ScanoutPlan, ZeroCopyImporter } from './zero-copy.js';

export interface KmsOutputDeps {
  readonly dev: NativeDrmDevice;
  readonly pipe: Pipe;
  readonly committer: Committer;
  readonly importer: ZeroCopyImporter;
  readonly stats: FallbackStats;
  readonly log: Logger;
  /** Try a scaling plane for guest screens that do not match a mode (atomic only). */
  readonly scale: boolean;
  /** A flip token unique across the card; the backend routes events by it. */
  readonly issueToken: (o: KmsOutput) => number;
  readonly forgetToken: (token: number) => void;
  /** Called when a call failed because another process took DRM master. */
  readonly onMasterLost: (err: unknown) => void;
}

/** How the current configuration reaches the screen. */
interface Active {
  readonly cfg: OutputConfig;
  readonly choice: ModeChoice;
  /** Placements to try for zero-copy, best first; the copy path always uses `copyPlacement`. */
  readonly candidates: readonly Placement[];
  readonly copyPlacement: Placement;
  readonly buffers: ScanoutBuffers;
}

type Route =
  | { readonly path: 'zero-copy'; readonly state: ScanoutState }
  | { readonly path: 'copy'; readonly reason: string };

interface Flip {
  readonly fb: FramebufferDesc;
  readonly done: (r: FlipResult) => void;
  token?: number;
  fbId?: number;
}

const noop = (): void => {};
const isMasterError = (err: unknown): boolean => isNativeError(err) && (err.errno === EACCES || err.errno === EPERM);
/** How long a modeset waits for a flip in flight before going ahead anyway. */
const SETTLE_MS = 200;

export class KmsOutput implements Output {
  readonly name: string;
  readonly modes: readonly Mode[];
  private active: Active | undefined;
  private shown: { fb: FramebufferDesc; fbId: number } | undefined;
  private inflight: Flip | undefined;
  private queued: Flip | undefined;
  /**
   * Framebuffers the guest released while on screen or in flight: their import and pages are held
   * (`letGo`) until the screen moves off them, as the card still reads them.
   */
  private readonly retired = new Map<number, { readonly fb: FramebufferDesc; readonly letGo: () => void }>();
  /** How each framebuffer was last routed, and where its picture lands. */
  private readonly routes = new Map<number, { path: ScanoutPath; reason?: string; placement: Placement }>();
  /** Framebuffers the driver refused at modeset or flip time: copied from then on. */
  private readonly forcedCopy = new Map<number, string>();
  /** Scanout buffers of a previous mode, freed once the new mode is on screen. */
  private staleBuffers: ScanoutBuffers[] = [];
  private inConfig = 0;
  private configuring: Promise<void> = Promise.resolve();
  private paused = false;
  private closed = false;
  private sequence = 0;
  private cachedFrame: Frame | undefined;
  private settleWaiters: (() => void)[] = [];
  private copied = 0;

  constructor(private readonly d: KmsOutputDeps) {
    this.name = d.pipe.connector.name;
    const seen = new Set<string>();
    this.modes = d.pipe.connector.modes.map(toMode).filter((m) => {
      const k = `${m.width}x${m.height}@${m.refreshMilliHz}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
  }

  get crtcId(): number {
    return this.d.pipe.crtc.id;
  }

  /** Guest bytes the copy path has read for this output since it was made (rows × row bytes). */
  get copiedBytes(): number {
    return this.copied;
  }

  /** Scanout dumb buffers held (2 while enabled). */
  get dumbBuffers(): number {
    return this.active ? 2 : 0;
  }

  setConfig(cfg: OutputConfig | null): Promise<void> {
    // Serialised: a modeset waits for the previous one.
    const run = this.configuring.then(() => this.applyConfig(cfg));
    this.configuring = run.catch(() => {});
    return run;
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    const drop = (reason: string): void => queueMicrotask(() => done({ shown: false, reason }));
    if (this.closed) return drop('output gone');
    if (!this.active) return drop('output disabled');
    if (this.paused) return drop('DRM master lost: another process has the display');
    const f: Flip = { fb, done };
    if (this.inflight || this.inConfig > 0) {
      this.replaceQueued(f, 'replaced by a newer flip before the vblank');
      return;
    }
    this.submit(f);
  }

  release(fb: FramebufferDesc): void {
    if (this.queued?.fb.id === fb.id) this.replaceQueued(undefined, 'framebuffer released');
    // On screen, its picture stays: the pages are held (converted only for a snapshot), never
    // copied on the turn of a request any guest may send in a loop.
    const onScreen = this.shown?.fb.id === fb.id || this.inflight?.fb.id === fb.id;
    if (onScreen) {
      if (!this.retired.has(fb.id)) this.retired.set(fb.id, { fb, letGo: fb.buffer.retain?.() ?? noop });
    } else this.d.importer.drop(fb);
    this.routes.delete(fb.id);
    this.forcedCopy.delete(fb.id);
  }

  currentFrame(): Frame | undefined {
    if (!this.active || !this.shown) return undefined;
    if (this.cachedFrame?.sequence === this.sequence) return this.cachedFrame;
    this.cachedFrame = this.render();
    return this.cachedFrame;
  }

  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    const r = this.routes.get(fb.id);
    if (!r) return { path: 'none' };
    return r.reason === undefined ? { path: r.path } : { path: r.path, reason: r.reason };
  }

  /** The DRM event for one of our flips. */
  onFlipEvent(ev: DrmFlipEvent): void {
    const f = this.inflight;
    if (!f || f.token !== ev.userData) return;
    this.inflight = undefined;
    this.d.forgetToken(ev.userData);
    this.shown = { fb: f.fb, fbId: f.fbId! };
    this.active?.buffers.shown(f.fbId!);
    this.sequence++;
    f.done({ shown: true, timestampNs: BigInt(ev.sec) * 1_000_000_000n + BigInt(ev.usec) * 1000n });
    this.afterFlip();
  }

  /** Another process took DRM master: drop what is queued, keep the configuration. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.abandonInflight('DRM master lost: another process has the display');
    this.replaceQueued(undefined, 'DRM master lost: another process has the display');
  }

  /** DRM master is back: show the guest's configuration again. */
  resume(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    this.paused = false;
    const a = this.active;
    if (!a || this.closed) return Promise.resolve();
    const fb = this.shown?.fb ?? a.cfg.fb;
    return this.setConfig({ ...a.cfg, fb });
  }

  /** Drops pending work and frees the scanout buffers; the backend restores the CRTC first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abandonInflight('output gone');
    this.replaceQueued(undefined, 'output gone');
    this.active?.buffers.close();
    this.active = undefined;
    this.closeStaleBuffers();
    for (const r of this.retired.values()) this.letGo(r);
    this.retired.clear();
    this.shown = undefined;
  }

  // --- configuration -------------------------------------------------------------------------

  private async applyConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.closed) throw new KmsError(`output ${this.name} is gone`, ENODEV);
    this.inConfig++;
    try {
      await this.settle();
      await this.configure(cfg);
    } finally {
      this.inConfig--;
      this.afterFlip();
    }
  }

  private async configure(cfg: OutputConfig | null): Promise<void> {
    if (cfg === null) return this.disable();
    const screen = guestScreen(cfg);
    const choice = selectMode(this.d.pipe.connector.modes, screen.width, screen.height);
    if (!choice) throw new KmsError(`output ${this.name}: the connector reports no modes`, EINVAL);
    const { hdisplay: mw, vdisplay: mh } = choice.mode;
    const centred = centredPlacement(cfg, mw, mh);
    if (!centred) throw new KmsError(`output ${this.name}: viewport ${cfg.width}x${cfg.height}+${cfg.x}+${cfg.y} is off the screen`, EINVAL);
    const scaled = choice.how === 'preferred' && this.d.scale && this.d.committer.kind === 'atomic' ? scaledPlacement(cfg, mw, mh) : undefined;
    const candidates = scaled ? [scaled, centred] : [centred];
    const prev = this.active;
    const buffers = this.buffersFor(choice.mode);
    if (prev && prev.buffers !== buffers) this.staleBuffers.push(prev.buffers);
    this.active = { cfg, choice, candidates, copyPlacement: centred, buffers };
    if (prev?.choice.mode !== choice.mode || prev.cfg.width !== cfg.width || prev.cfg.height !== cfg.height) {
      this.logChoice(cfg, choice);
    }
    if (this.paused) return;
    try {
      await this.show(cfg);
    } catch (err) {
      // Nothing changed on screen: go back to the previous configuration's bookkeeping.
      if (this.active?.cfg === cfg) {
        this.active = prev;
        if (prev && prev.buffers !== buffers) {
          this.staleBuffers = this.staleBuffers.filter((b) => b !== prev.buffers);
          buffers.close();
        }
      }
      throw err;
    }
  }

  /** Modesets to the active configuration showing `cfg.fb`, zero-copy if possible, else copied. */
  private async show(cfg: OutputConfig): Promise<void> {
    const route = await this.routeFor(cfg.fb);
    if (this.closed || this.active?.cfg !== cfg) return;
    const state = this.stateFor(cfg.fb, route);
    try {
      this.d.committer.modeset(state);
    } catch (err) {
      if (isMasterError(err)) return this.masterLost(err);
      if (route.path !== 'zero-copy') throw this.configError(err);
      // The driver took the test but not the real thing: show this framebuffer by copying.
      this.markCopy(cfg.fb, `modeset refused the guest's framebuffer (${isNativeError(err) ? err.code : 'error'})`);
      const copy = this.stateFor(cfg.fb, { path: 'copy', reason: 'modeset refused' });
      try {
        this.d.committer.modeset(copy);
      } catch (err2) {
        if (isMasterError(err2)) return this.masterLost(err2);
        throw this.configError(err2);
      }
      this.nowShowing(cfg.fb, copy.fbId);
      return;
    }
    this.nowShowing(cfg.fb, state.fbId);
  }

  private disable(): void {
    this.abandonInflight('output disabled');
    this.replaceQueued(undefined, 'output disabled');
    const a = this.active;
    this.active = undefined;
    if (!a) return;
    if (!this.paused) {
      try {
        this.d.committer.disable(this.d.pipe);
      } catch (err) {
        if (isMasterError(err)) this.masterLost(err);
        else this.d.log.warn({ err, output: this.name }, 'turning the output off failed');
      }
    }
    this.shown = undefined;
    a.buffers.close();
    this.closeStaleBuffers();
    this.dropRetired();
    this.sequence++;
  }

  private closeStaleBuffers(): void {
    for (const b of this.staleBuffers.splice(0)) b.close();
  }

  private buffersFor(mode: DrmModeInfo): ScanoutBuffers {
    const cur = this.active?.buffers;
    if (cur && cur.width === mode.hdisplay && cur.height === mode.vdisplay) return cur;
    try {
      return new ScanoutBuffers(this.d.dev, mode.hdisplay, mode.vdisplay);
    } catch (err) {
      throw this.configError(err);
    }
  }

  private logChoice(cfg: OutputConfig, choice: ModeChoice): void {
    const s = guestScreen(cfg);
    const how =
      choice.how === 'exact'
        ? 'the exact mode'
        : `no ${s.width}x${s.height} mode: the preferred mode, guest screen ${this.d.scale && this.d.committer.kind === 'atomic' ? 'scaled to fit where the plane can scale, else ' : ''}centred`;
    this.d.log.info({ output: this.name, guest: `${s.width}x${s.height}`, mode: describeMode(choice.mode), how: choice.how }, `${this.name}: guest ${s.width}x${s.height} on ${describeMode(choice.mode)} (${how})`);
  }

  private configError(err: unknown): KmsError {
    if (err instanceof KmsError) return err;
    const errno = isNativeError(err) ? err.errno : 5;
    return new KmsError(`output ${this.name}: ${err instanceof Error ? err.message : String(err)}`, errno);
  }

  // --- routing: zero-copy or copy --------------------------------------------------------------

  private async routeFor(fb: FramebufferDesc): Promise<Route> {
    let plan: ScanoutPlan;
    try {
      plan = await this.d.importer.plan(fb);
    } catch (err) {
      plan = { kind: 'copy', reason: `import failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    const a = this.active;
    if (!a) return { path: 'copy', reason: 'output disabled' };
    const forced = this.forcedCopy.get(fb.id);
    if (forced !== undefined) return this.remember(fb, { path: 'copy', reason: forced });
    if (plan.kind === 'copy') return this.remember(fb, { path: 'copy', reason: plan.reason });
    for (const placement of a.candidates) {
      const state: ScanoutState = { pipe: this.d.pipe, mode: a.choice.mode, fbId: plan.fbId, placement };
      if (this.d.committer.canShow(state)) return this.remember(fb, { path: 'zero-copy', state });
    }
    const reason =
      this.d.committer.kind === 'legacy'
        ? 'the guest screen does not fill the mode and legacy KMS cannot position a plane'
        : 'the display refused the plane placement (atomic test)';
    this.d.stats.count(reason);
    return this.remember(fb, { path: 'copy', reason });
  }

  private remember(fb: FramebufferDesc, r: Route): Route {
    this.routes.set(
      fb.id,
      r.path === 'zero-copy'
        ? { path: 'zero-copy', placement: r.state.placement }
        : { path: 'copy', reason: r.reason, placement: this.active!.copyPlacement },
    );
    return r;
  }

  private markCopy(fb: FramebufferDesc, reason: string): void {
    this.d.stats.count(reason);
    this.forcedCopy.set(fb.id, reason);
    this.routes.set(fb.id, { path: 'copy', reason, placement: this.active!.copyPlacement });
  }

  /** The state to commit; for the copy path this copies the guest's pixels into the back buffer now. */
  private stateFor(fb: FramebufferDesc, route: Route): ScanoutState {
    if (route.path === 'zero-copy') return route.state;
    const a = this.active!;
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
    return { pipe: this.d.pipe, mode: a.choice.mode, fbId: back.fbId, placement: { src: full, dst: full, scaled: false, fullScreen: true } };
  }

  // --- flips -------------------------------------------------------------------------------------

  private submit(f: Flip): void {
    this.inflight = f;
    this.routeFor(f.fb)
      .then((route) => this.commitFlip(f, route))
      .catch((err: unknown) => this.failFlip(f, err));
  }

  private commitFlip(f: Flip, route: Route): void {
    if (this.inflight !== f) return; // abandoned while the plan was being made
    if (!this.active || this.paused) return this.failFlip(f, new Error('output disabled'));
    let state = this.stateFor(f.fb, route);
    const token = this.d.issueToken(this);
    try {
      this.d.committer.flip(state, token);
    } catch (err) {
      if (isMasterError(err)) {
        this.d.forgetToken(token);
        this.masterLost(err);
        return;
      }
      if (route.path !== 'zero-copy') {
        this.d.forgetToken(token);
        return this.failFlip(f, err);
      }
      this.markCopy(f.fb, `flip refused the guest's framebuffer (${isNativeError(err) ? err.code : 'error'})`);
      state = this.stateFor(f.fb, { path: 'copy', reason: 'flip refused' });
      try {
        this.d.committer.flip(state, token);
      } catch (err2) {
        this.d.forgetToken(token);
        if (isMasterError(err2)) return this.masterLost(err2);
        return this.failFlip(f, err2);
      }
    }
    f.token = token;
    f.fbId = state.fbId;
  }

  private failFlip(f: Flip, err: unknown): void {
    if (this.inflight === f) this.inflight = undefined;
    this.d.log.warn({ err, output: this.name }, 'flip failed');
    f.done({ shown: false, reason: `device error: ${err instanceof Error ? err.message : String(err)}` });
    this.afterFlip();
  }

  private afterFlip(): void {
    this.dropRetired();
    for (const w of this.settleWaiters.splice(0)) w();
    const next = this.queued;
    if (next && !this.inflight && this.active && !this.paused) {
      this.queued = undefined;
      this.submit(next);
    }
  }

  private replaceQueued(f: Flip | undefined, reason: string): void {
    const old = this.queued;
    this.queued = f;
    if (old) queueMicrotask(() => old.done({ shown: false, reason }));
  }

  private abandonInflight(reason: string): void {
    const f = this.inflight;
    if (!f) return;
    this.inflight = undefined;
    if (f.token !== undefined) this.d.forgetToken(f.token);
    queueMicrotask(() => f.done({ shown: false, reason }));
    for (const w of this.settleWaiters.splice(0)) w();
  }

  /** Waits (bounded) for the flip in flight, so a modeset does not race it. */
  private settle(): Promise<void> {
    if (!this.inflight) return Promise.resolve();
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

  private nowShowing(fb: FramebufferDesc, fbId: number): void {
    this.closeStaleBuffers();
    this.shown = { fb, fbId };
    this.active?.buffers.shown(fbId);
    this.sequence++;
    this.dropRetired();
  }

  private dropRetired(): void {
    for (const [id, r] of this.retired) {
      if (this.shown?.fb.id === id || this.inflight?.fb.id === id) continue;
      this.retired.delete(id);
      this.letGo(r);
    }
  }

  private letGo(r: { readonly fb: FramebufferDesc; readonly letGo: () => void }): void {
    this.d.importer.drop(r.fb);
    r.letGo();
  }

  private masterLost(err: unknown): void {
    this.d.onMasterLost(err);
    this.pause();
  }

  // --- the picture, for snapshots --------------------------------------------------------------

  private render(): Frame {
    const a = this.active;
    const width = a?.choice.mode.hdisplay ?? 0;
    const height = a?.choice.mode.vdisplay ?? 0;
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    const fb = this.shown?.fb;
    if (a && fb) {
      // What the guest framebuffer shows, where it lands (unscaled: a scaled plane is drawn at its origin).
      const p = this.routes.get(fb.id)?.placement ?? a.copyPlacement;
      const cpp = formatByFourcc(fb.fourcc)?.cpp ?? 4;
      drawRegion(
        {
          src: fb.buffer.bytes.subarray(0, Math.min(fb.buffer.size, fb.buffer.bytes.length)),
          offset: fb.offset + p.src.y * fb.pitch + p.src.x * cpp,
          pitch: fb.pitch,
          width: p.src.width,
          height: p.src.height,
          fourcc: fb.fourcc,
        },
        { rgba, width, height, x: p.dst.x, y: p.dst.y },
      );
    }
    return { width, height, rgba, sequence: this.sequence };
  }
}
