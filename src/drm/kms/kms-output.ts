// One guest connector on one real connector: a CRTC of its own, the mode chosen for the guest's
// screen, and every guest framebuffer shown zero-copy where the card accepts it or copied into our
// double-buffered dumb buffers where it does not. Flip completion (the DRM event) is what calls
// `done`; losing DRM master pauses scanout without failing the guest, regaining it restores it.
// Its parts: the state of its life (output-state.ts), the flip queue (flip-queue.ts), the route of
// each framebuffer (routing.ts) and the picture for snapshots (output-picture.ts); this file is the
// Output seam over them, the modeset and the commit of each flip.
import { emitter } from '../../util/events.js';
import type { Logger } from '../../util/log.js';
import { isNativeError } from '../../native/errors.js';
import type { DrmFlipEvent, DrmModeInfo, NativeDrmDevice } from '../../native/drm-device.js';
import type {
  FlipResult,
  Frame,
  FramebufferDesc,
  Mode,
  Output,
  OutputConfig,
  PlaneLayer,
  ScanoutPath,
} from '../output.js';
import { isScaledLayer } from '../output.js';
import type { Committer, OverlayLayer, ScanoutState } from './commit.js';
import { EACCES, EIO, ENODEV, EPERM, KmsError } from './errors.js';
import type { FallbackStats } from './fallbacks.js';
import { FlipQueue, type Flip } from './flip-queue.js';
import { describeMode, toMode, type ModeChoice } from './modes.js';
import { OutputPicture, type Scene } from './output-picture.js';
import { activeOf, type Active, type OutputState } from './output-state.js';
import { guestScreen } from './placement.js';
import { Router, type Route } from './routing.js';
import { ScanoutBuffers } from './scanout-buffers.js';
import { describePlan, planScreen } from './screen-plan.js';
import { stackDepth, stackLayers } from './plane-stack.js';
import type { Pipe } from './topology.js';
import type { ZeroCopyImporter } from './zero-copy.js';

export interface KmsOutputDeps {
  readonly dev: NativeDrmDevice;
  readonly pipe: Pipe;
  readonly committer: Committer;
  readonly importer: ZeroCopyImporter;
  readonly stats: FallbackStats;
  readonly log: Logger;
  /** Try a scaling plane for guest screens that do not match a mode (where the committer can scale). */
  readonly scale: boolean;
  /** A flip token unique across the card; the backend routes events by it. */
  readonly issueToken: (o: KmsOutput) => number;
  readonly forgetToken: (token: number) => void;
}

export interface KmsOutputEvents {
  /** A call failed because another process took DRM master (the output has paused itself). */
  'master-lost': [err: unknown];
}

const noop = (): void => {};
const isMasterError = (err: unknown): boolean => isNativeError(err) && (err.errno === EACCES || err.errno === EPERM);
const MASTER_LOST = 'DRM master lost: another process has the display';

export class KmsOutput implements Output {
  readonly name: string;
  readonly events = emitter<KmsOutputEvents>();
  private modeList: readonly Mode[];
  private state: OutputState = { kind: 'off' };
  private pipe: Pipe;
  private shown: { fb: FramebufferDesc; fbId: number } | undefined;
  /** Guest framebuffers on the overlay planes now (a composed layout's). */
  private shownLayers: readonly PlaneLayer[] = [];
  /** What TEST_ONLY commits found: whether a plane scales a format from one size to another (scaleKey). */
  private readonly scaleTried = new Map<string, boolean>();
  /**
   * Framebuffers the guest released while on screen or in flight: their import and pages are held
   * (`letGo`) until the screen moves off them, as the card still reads them.
   */
  private readonly retired = new Map<number, Retired>();
  /** Scanout buffers of a previous mode, freed once the new mode is on screen. */
  private staleBuffers: ScanoutBuffers[] = [];
  private configuring: Promise<void> = Promise.resolve();
  private readonly flips: FlipQueue;
  private readonly router: Router;
  private readonly picture = new OutputPicture();

  constructor(private readonly d: KmsOutputDeps) {
    this.pipe = d.pipe;
    this.name = d.pipe.connector.name;
    this.modeList = modesOf(d.pipe);
    this.flips = new FlipQueue({
      start: (f) => this.submit(f),
      canStart: () => this.state.kind === 'on',
      forgetToken: (t) => d.forgetToken(t),
    });
    this.router = new Router({
      committer: d.committer,
      importer: d.importer,
      stats: d.stats,
      active: () => this.active,
    });
  }

  /** The connector's modes (those of the monitor plugged in last). */
  get modes(): readonly Mode[] {
    return this.modeList;
  }

  /** What the output is doing, for the backend and tests. */
  get life(): OutputState['kind'] {
    return this.state.kind;
  }

  /** The connector, CRTC and plane it drives (or drove last, while unplugged). */
  get currentPipe(): Pipe {
    return this.pipe;
  }

  get crtcId(): number {
    return this.pipe.crtc.id;
  }

  /** Guest bytes the copy path has read for this output since it was made (rows × row bytes). */
  get copiedBytes(): number {
    return this.router.copiedBytes;
  }

  /** Overlay planes a flip may carry guest framebuffers on (atomic cards that have them), as they can stack. */
  get overlayPlanes(): number {
    return stackDepth(this.pipe.plane, this.d.committer.overlays(this.pipe));
  }

  /** Imports `fb` for a plane ahead of its first frame there; whether it can be scanned out at all. */
  async preparePlane(fb: FramebufferDesc): Promise<boolean> {
    return (await this.d.importer.plan(fb)).kind === 'zero-copy';
  }

  /**
   * Whether an overlay plane can show `layer` over `fb`: a scaled one (source and destination
   * sizes differ) only on a plane whose TEST_ONLY commit of it alone took it, since no property
   * says which planes scale what; tried once per plane, format and sizes until the next modeset.
   */
  layerFits(fb: FramebufferDesc, layer: PlaneLayer): true | string {
    if (!isScaledLayer(layer)) return true;
    const a = this.state.kind === 'on' ? this.state.active : undefined;
    const fbId = this.d.importer.fbIdOf(fb);
    const layerFbId = this.d.importer.fbIdOf(layer.fb);
    const primary = this.pipe.plane;
    if (!a || fbId === undefined || layerFbId === undefined || !primary) return 'the output is not ready for planes';
    const planes = this.d.committer.overlays(this.pipe);
    if (this.scaleTried.size > MAX_SCALE_TRIES) this.scaleTried.clear();
    for (const plane of planes) {
      const key = scaleKey(plane.id, layer);
      let ok = this.scaleTried.get(key);
      if (ok === undefined) {
        const one = stackLayers(primary, planes, 1, (_, p) => p === plane);
        ok =
          typeof one !== 'string' &&
          this.d.committer.canShow({
            ...fullScreen(a, fbId),
            primaryZpos: one.primaryZpos,
            overlays: [{ plane, fbId: layerFbId, src: layer.src, dst: layer.dst, zpos: one.planes[0]!.zpos }],
          });
        this.scaleTried.set(key, ok);
      }
      if (ok) return true;
    }
    return `no overlay plane scales ${layer.src.width}x${layer.src.height} to ${layer.dst.width}x${layer.dst.height}`;
  }

  /** A TEST_ONLY commit of `fb` full screen with `layers` on the overlay planes: true, or why the display does not take it. */
  testLayers(fb: FramebufferDesc, layers: readonly PlaneLayer[]): true | string {
    const a = this.state.kind === 'on' ? this.state.active : undefined;
    const fbId = this.d.importer.fbIdOf(fb);
    if (!a || fbId === undefined) return 'the output is not ready for planes';
    const stacked = this.overlaysFor(layers);
    if (typeof stacked === 'string') return stacked;
    return this.d.committer.canShow({ ...fullScreen(a, fbId), ...stacked })
      ? true
      : 'the display refused these planes (atomic test)';
  }

  /** As flip, with `layers` on the overlay planes from the same vblank (none: the planes go off). */
  flipLayers(fb: FramebufferDesc, layers: readonly PlaneLayer[], done: (r: FlipResult) => void): void {
    if (this.state.kind !== 'on') return this.flip(fb, done);
    this.flips.offer({ fb, done, layers });
  }

  /** Scanout dumb buffers held (2 while enabled). */
  get dumbBuffers(): number {
    return this.active ? 2 : 0;
  }

  private get active(): Active | undefined {
    return activeOf(this.state);
  }

  setConfig(cfg: OutputConfig | null): Promise<void> {
    // Serialised: a modeset waits for the previous one.
    const run = this.configuring.then(() => this.applyConfig(cfg));
    this.configuring = run.catch(() => {});
    return run;
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    const drop = (reason: string): void => queueMicrotask(() => done({ shown: false, reason }));
    switch (this.state.kind) {
      case 'gone':
        return drop('output gone');
      case 'off':
        return drop('output disabled');
      case 'paused':
        return drop(this.state.active ? MASTER_LOST : 'output disabled');
      case 'unplugged':
        // Kept as the frame to show when the monitor comes back.
        if (this.state.cfg) this.state = { kind: 'unplugged', cfg: { ...this.state.cfg, fb } };
        return drop('output unplugged');
      case 'on':
        return this.flips.offer({ fb, done });
    }
  }

  release(fb: FramebufferDesc): void {
    // Its pages go: an unplugged output keeps no configuration that shows it (the guest's next SET_CONFIG will).
    if (this.state.kind === 'unplugged' && this.state.cfg?.fb.id === fb.id)
      this.state = { kind: 'unplugged', cfg: undefined };
    this.flips.dropQueued(fb.id, 'framebuffer released');
    // On screen, its picture stays: the pages are held (converted only for a snapshot), never
    // copied on the turn of a request any guest may send in a loop.
    const onScreen = this.inUse(fb.id);
    if (onScreen) {
      if (!this.retired.has(fb.id)) this.retired.set(fb.id, { fb, letGo: fb.buffer.retain?.() ?? noop });
    } else this.d.importer.drop(fb);
    this.router.forget(fb);
  }

  currentFrame(): Frame | undefined {
    if (!this.active || !this.shown) return undefined;
    return this.picture.frame(this.scene());
  }

  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    return this.router.pathOf(fb);
  }

  /** The DRM event for one of our flips. */
  onFlipEvent(ev: DrmFlipEvent): void {
    const f = this.flips.complete(ev.userData);
    if (!f) return;
    this.shown = { fb: f.fb, fbId: f.fbId! };
    if (f.layers) this.shownLayers = f.layers;
    this.active?.buffers.shown(f.fbId!);
    this.picture.changed();
    f.done({ shown: true, timestampNs: BigInt(ev.sec) * 1_000_000_000n + BigInt(ev.usec) * 1000n });
    this.afterFlip();
  }

  /** Another process took DRM master: drop what is queued, keep the configuration. */
  pause(): void {
    const s = this.state;
    if (s.kind !== 'on' && s.kind !== 'off') return;
    this.state = { kind: 'paused', active: activeOf(s) };
    this.flips.dropAll(MASTER_LOST);
  }

  /** DRM master is back: show the guest's configuration again. */
  resume(): Promise<void> {
    const s = this.state;
    if (s.kind !== 'paused') return Promise.resolve();
    if (!s.active) {
      this.state = { kind: 'off' };
      return Promise.resolve();
    }
    this.state = { kind: 'on', active: s.active };
    const fb = this.shown?.fb ?? s.active.cfg.fb;
    return this.setConfig({ ...s.active.cfg, fb });
  }

  /**
   * The monitor was unplugged: the CRTC is turned off and every scanout buffer freed; the guest's
   * configuration is kept (with the frame it flipped last) to show on its return.
   */
  unplug(): void {
    const s = this.state;
    if (s.kind === 'gone' || s.kind === 'unplugged') return;
    const a = activeOf(s);
    // A framebuffer the guest released is let go below: it cannot be shown on return.
    const last = this.shown?.fb ?? a?.cfg.fb;
    const fb = last && !this.retired.has(last.id) ? last : undefined;
    this.state = { kind: 'unplugged', cfg: a && fb ? { ...a.cfg, fb } : undefined };
    this.flips.dropAll('output unplugged');
    if (s.kind === 'on') this.turnOff();
    this.shown = undefined;
    this.shownLayers = [];
    a?.buffers.close();
    this.closeStaleBuffers();
    this.dropRetired();
    this.picture.changed();
  }

  /**
   * A monitor is back on this connector, on `pipe` (the CRTC may differ): shows the configuration
   * kept at unplug, or waits for DRM master first when `paused`.
   */
  plug(pipe: Pipe, paused: boolean): Promise<void> {
    const s = this.state;
    if (s.kind !== 'unplugged') return Promise.resolve();
    this.pipe = pipe;
    this.modeList = modesOf(pipe);
    this.state = paused ? { kind: 'paused', active: undefined } : { kind: 'off' };
    return s.cfg ? this.setConfig(s.cfg) : Promise.resolve();
  }

  /** Drops pending work and frees the scanout buffers; the backend restores the CRTC first. */
  close(): void {
    if (this.state.kind === 'gone') return;
    const a = this.active;
    this.state = { kind: 'gone' };
    this.flips.dropAll('output gone');
    a?.buffers.close();
    this.closeStaleBuffers();
    for (const r of this.retired.values()) this.letGo(r);
    this.retired.clear();
    this.shown = undefined;
    this.shownLayers = [];
  }

  // --- configuration -------------------------------------------------------------------------

  private async applyConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.state.kind === 'gone') throw new KmsError(`output ${this.name} is gone`, ENODEV);
    const settled = this.flips.beginModeset();
    try {
      await settled;
      await this.configure(cfg);
    } finally {
      this.flips.endModeset();
      this.afterFlip();
    }
  }

  private async configure(cfg: OutputConfig | null): Promise<void> {
    if (cfg === null) return this.disable();
    const before = this.state;
    // Unplugged: kept for the monitor's return, when the connector's modes are known again.
    if (before.kind === 'unplugged') {
      this.state = { kind: 'unplugged', cfg };
      return;
    }
    if (before.kind === 'gone') throw new KmsError(`output ${this.name} is gone`, ENODEV);
    const { choice, candidates, copyPlacement } = planScreen(this.name, cfg, this.pipe.connector.modes, this.scales);
    const prev = activeOf(before);
    const buffers = this.buffersFor(choice.mode);
    if (prev && prev.buffers !== buffers) this.staleBuffers.push(prev.buffers);
    const active: Active = { cfg, pipe: this.pipe, choice, candidates, copyPlacement, buffers };
    this.state = before.kind === 'paused' ? { kind: 'paused', active } : { kind: 'on', active };
    if (prev?.choice.mode !== choice.mode || prev.cfg.width !== cfg.width || prev.cfg.height !== cfg.height) {
      this.logChoice(cfg, choice);
    }
    if (this.state.kind === 'paused') return;
    try {
      await this.show(active);
    } catch (err) {
      // Nothing changed on screen: go back to the previous configuration's bookkeeping.
      if (this.active === active) {
        this.state = this.withActive(prev);
        if (prev && prev.buffers !== buffers) {
          this.staleBuffers = this.staleBuffers.filter((b) => b !== prev.buffers);
          buffers.close();
        }
      }
      throw err;
    }
  }

  /** The state now, with `a` as its configuration (paused stays paused). */
  private withActive(a: Active | undefined): OutputState {
    if (this.state.kind === 'paused') return { kind: 'paused', active: a };
    return a ? { kind: 'on', active: a } : { kind: 'off' };
  }

  /** Whether a scaled placement is worth trying: asked for, and the committer can scale. */
  private get scales(): boolean {
    return this.d.scale && this.d.committer.canScale;
  }

  /** Modesets to `a` showing `a.cfg.fb`, zero-copy if possible, else copied. */
  private async show(a: Active): Promise<void> {
    const fb = a.cfg.fb;
    const route = await this.router.route(fb);
    if (this.state.kind === 'gone' || this.active !== a) return;
    const state = this.router.stateFor(fb, route, a);
    try {
      this.d.committer.modeset(state);
    } catch (err) {
      if (isMasterError(err)) return this.masterLost(err);
      if (route.path !== 'zero-copy') throw this.configError(err);
      // The driver took the test but not the real thing: show this framebuffer by copying.
      const copy = this.router.stateFor(fb, this.router.refused(fb, a, 'modeset', err), a);
      try {
        this.d.committer.modeset(copy);
      } catch (err2) {
        if (isMasterError(err2)) return this.masterLost(err2);
        throw this.configError(err2);
      }
      this.nowShowing(fb, copy.fbId);
      return;
    }
    this.nowShowing(fb, state.fbId);
  }

  private disable(): void {
    const s = this.state;
    const a = activeOf(s);
    this.flips.dropAll('output disabled');
    if (s.kind === 'on') this.state = { kind: 'off' };
    else if (s.kind === 'paused') this.state = { kind: 'paused', active: undefined };
    else if (s.kind === 'unplugged') this.state = { kind: 'unplugged', cfg: undefined };
    if (!a) return;
    if (s.kind === 'on') this.turnOff();
    this.shown = undefined;
    this.shownLayers = [];
    a.buffers.close();
    this.closeStaleBuffers();
    this.dropRetired();
    this.picture.changed();
  }

  private turnOff(): void {
    try {
      this.d.committer.disable(this.pipe);
    } catch (err) {
      if (isMasterError(err)) this.masterLost(err);
      else this.d.log.warn({ err, output: this.name }, 'turning the output off failed');
    }
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
    const fields = {
      output: this.name,
      guest: `${s.width}x${s.height}`,
      mode: describeMode(choice.mode),
      how: choice.how,
    };
    this.d.log.info(fields, describePlan(this.name, cfg, choice, this.scales));
  }

  private configError(err: unknown): KmsError {
    if (err instanceof KmsError) return err;
    const errno = isNativeError(err) ? err.errno : EIO;
    return new KmsError(`output ${this.name}: ${err instanceof Error ? err.message : String(err)}`, errno);
  }

  // --- flips -------------------------------------------------------------------------------------

  /** The flip queue started `f`: route it, then commit it for the next vblank. */
  private submit(f: Flip): void {
    this.router
      .route(f.fb)
      .then((route) => this.commitFlip(f, route))
      .catch((err: unknown) => this.failFlip(f, err));
  }

  private commitFlip(f: Flip, route: Route): void {
    if (!this.flips.owns(f)) return; // abandoned while the plan was being made
    const a = this.state.kind === 'on' ? this.state.active : undefined;
    if (!a) return this.failFlip(f, new Error('output disabled'));
    let state = this.withLayers(this.router.stateFor(f.fb, route, a), f);
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
      state = this.withLayers(this.router.stateFor(f.fb, this.router.refused(f.fb, a, 'flip', err), a), f);
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
    this.flips.failed(f);
    this.d.log.warn({ err, output: this.name }, 'flip failed');
    f.done({ shown: false, reason: `device error: ${err instanceof Error ? err.message : String(err)}` });
    this.afterFlip();
  }

  private afterFlip(): void {
    this.dropRetired();
    this.flips.advance();
  }

  /** The flip's layers on the overlay planes (all off where they can no longer be named or stacked). */
  private withLayers(state: ScanoutState, f: Flip): ScanoutState {
    if (!f.layers) return state;
    const stacked = this.overlaysFor(f.layers);
    return { ...state, ...(typeof stacked === 'string' ? { overlays: [] } : stacked) };
  }

  /**
   * The layers on this pipe's overlay planes, bottom to top, stacked as plane-stack.ts says (a
   * scaled layer only on a plane layerFits found to scale it); or why they cannot be. The same
   * layers give the same planes until the next modeset, so a flip lights what its test took.
   */
  private overlaysFor(
    layers: readonly PlaneLayer[],
  ): { overlays: OverlayLayer[]; primaryZpos: bigint | undefined } | string {
    const primary = this.pipe.plane;
    if (!primary) return 'no primary plane';
    const fbIds: number[] = [];
    for (const l of layers) {
      const fbId = this.d.importer.fbIdOf(l.fb);
      if (fbId === undefined) return 'a guest framebuffer is not imported for a plane';
      fbIds.push(fbId);
    }
    const stacking = stackLayers(
      primary,
      this.d.committer.overlays(this.pipe),
      layers.length,
      (i, p) => !isScaledLayer(layers[i]!) || this.scaleTried.get(scaleKey(p.id, layers[i]!)) === true,
    );
    if (typeof stacking === 'string') return stacking;
    return {
      primaryZpos: stacking.primaryZpos,
      overlays: layers.map((l, i) => ({
        plane: stacking.planes[i]!.plane,
        fbId: fbIds[i]!,
        src: l.src,
        dst: l.dst,
        zpos: stacking.planes[i]!.zpos,
      })),
    };
  }

  /** Whether the display reads `id` now or soon: the picture or a layer, shown, in flight or queued. */
  private inUse(id: number): boolean {
    if (this.shown?.fb.id === id || this.flips.isInflight(id)) return true;
    if (this.shownLayers.some((l) => l.fb.id === id)) return true;
    return [this.flips.inflight, this.flips.queued].some((f) => f?.layers?.some((l) => l.fb.id === id));
  }

  private nowShowing(fb: FramebufferDesc, fbId: number): void {
    this.closeStaleBuffers();
    // A modeset lights the primary alone (the committer turns overlays off); what scales may differ in the new mode.
    this.shownLayers = [];
    this.scaleTried.clear();
    this.shown = { fb, fbId };
    this.active?.buffers.shown(fbId);
    this.picture.changed();
    this.dropRetired();
  }

  private dropRetired(): void {
    for (const [id, r] of this.retired) {
      if (this.inUse(id)) continue;
      this.retired.delete(id);
      this.letGo(r);
    }
  }

  private letGo(r: Retired): void {
    this.d.importer.drop(r.fb);
    r.letGo();
  }

  private masterLost(err: unknown): void {
    this.events.emit('master-lost', err);
    this.pause();
  }

  // --- the picture -------------------------------------------------------------------------------

  private scene(): Scene {
    const a = this.active;
    const fb = a ? this.shown?.fb : undefined;
    return {
      width: a?.choice.mode.hdisplay ?? 0,
      height: a?.choice.mode.vdisplay ?? 0,
      fb,
      placement: (fb && this.router.placementOf(fb)) ??
        a?.copyPlacement ?? { src: zero, dst: zero, scaled: false, fullScreen: false },
      layers: fb ? this.shownLayers : [],
    };
  }
}

const zero = { x: 0, y: 0, width: 0, height: 0 };
/** Plane, format and sizes remembered at most before the memory starts again (guests changing sizes). */
const MAX_SCALE_TRIES = 256;

function scaleKey(planeId: number, l: PlaneLayer): string {
  return `${planeId} ${l.fb.fourcc} ${l.src.width}x${l.src.height}>${l.dst.width}x${l.dst.height}`;
}

interface Retired {
  readonly fb: FramebufferDesc;
  readonly letGo: () => void;
}

/** The connector's modes, each size and rate once. */
function modesOf(pipe: Pipe): Mode[] {
  const seen = new Set<string>();
  return pipe.connector.modes.map(toMode).filter((m) => {
    const k = `${m.width}x${m.height}@${m.refreshMilliHz}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** `fbId` covering the whole mode of `a` (a picture of the mode's size, such as a composed frame). */
function fullScreen(a: Active, fbId: number): ScanoutState {
  const m = a.choice.mode;
  const full = { x: 0, y: 0, width: m.hdisplay, height: m.vdisplay };
  return { pipe: a.pipe, mode: m, fbId, placement: { src: full, dst: full, scaled: false, fullScreen: true } };
}
