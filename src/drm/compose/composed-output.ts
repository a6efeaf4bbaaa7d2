// Several guest connectors on one dom0 output: each guest drives a SlotOutput of its own, and this
// composes them with the CPU into buffers of ours that the physical output (headless, KMS,
// anything behind the Output seam) flips to like any framebuffer. Only what changed is redrawn:
// the rectangles of guests that flipped or changed configuration (and, in the buffer that was on
// screen meanwhile, what changed in the other). Frames are composed shortly before the output's
// next vblank, so every guest that flipped since the last one is shown at that vblank together and
// gets its flip event then, whatever the others do; a guest that does not flip keeps its picture.
// The composition runs at a mode of the output chosen for the layout (modeForLayout) and follows
// the output's modes: a monitor plugged in with other modes gets the layout at a mode of its own
// that holds it, or, where none does, the layout is not shown (see outputChanged). Where the
// output has overlay planes (KMS, atomic), guests go on them, scanned out from their own buffers
// with nothing composed — scaled ones where a plane scales them — stacked in the layout's order,
// as far as the planes' stacking and a test-only commit of the frame say the display takes it;
// the others are composed by the CPU, each with the reason (chooseLayers, compose, placements).
import { Errno } from '../../util/errno.js';
import type { DomId } from '../../util/ids.js';
import type { Rect, Size } from '../../util/geometry.js';
import {
  OutputError,
  isScaledLayer,
  type DrawBuffer,
  type FlipResult,
  type FramebufferDesc,
  type Mode,
  type Output,
  type OutputConfig,
  type PlaneLayer,
  type ScanoutPath,
  type LayoutPlace,
} from '../output.js';
import { composeRegion, makeTarget, targetOver, type ComposeTarget, type SlotPicture } from './blit.js';
import { intersect, layoutUnfit, modeForLayout, sameLayout, type Layout, type LayoutEntry } from './layout.js';
import { SlotOutput, type SlotHost } from './slot-output.js';

const XRGB8888 = 0x34325258;
/** Composed framebuffers take ids below zero: the backend's guest framebuffers count up from one. */
let nextComposedId = -1;
/** More separate damaged rectangles than this in one frame are redrawn as the whole output. */
const MAX_DAMAGE_RECTS = 32;
/** Frames after a refused plane assignment before more planes are tried again (half a second at 60 Hz). */
const PLANE_RETRY_FRAMES = 30;

/** No mode of the output holds the layout (ComposedOutput.open). */
export class LayoutUnfitError extends OutputError {}

export interface ComposedOutputStats {
  /** Composed frames the physical output showed. */
  readonly framesShown: number;
  /** Bytes written into our buffers by composition (the CPU path's cost). */
  readonly bytesComposed: number;
  readonly slots: number;
  readonly entries: number;
  /** The size composed at, or undefined while the layout is not shown. */
  readonly size: Size | undefined;
  /** Why the layout is not shown now (no mode of the output holds it), else undefined. */
  readonly notShown: string | undefined;
  /** Planes the last frame used: the primary and the guests on overlay planes. */
  readonly planes: number;
  /** Frames shown with at least one guest on an overlay plane. */
  readonly planeFrames: number;
  /**
   * Frames whose planes the display refused (test-only commit) or could not stack as the layout
   * does: those guests composed by the CPU instead.
   */
  readonly planeRefusals: number;
  /** Each layout entry's guest, bottom to top: on a plane or composed by the CPU (and why), in the last frame. */
  readonly placements: readonly GuestPlacement[];
}

/** Where a layout entry's guest is shown: on an overlay plane of its own, or composed by the CPU, and why. */
export type GuestPlacement =
  | { readonly key: string; readonly plane: true }
  | { readonly key: string; readonly plane: false; readonly why: string };

export interface ComposedOutputOptions {
  /** Where a failure nobody asked about is said (a modeset refused on a monitor's return). */
  readonly warn?: (line: string) => void;
  /**
   * The physical output's own scanout memory to compose into (its backend's allocateDrawBuffer):
   * the composed frame is then flipped to as it is, no copy after the composition. Without it (or
   * where it gives none) the frames are composed in memory, and a card copies them.
   */
  readonly allocate?: (size: Size) => DrawBuffer | undefined;
}

interface OwnBuffer {
  readonly target: ComposeTarget;
  readonly desc: FramebufferDesc;
  /** The device memory under `target`, where it is the output's own. */
  readonly memory: DrawBuffer | undefined;
  /** Where this buffer differs from the newest picture. */
  stale: Rect[];
}

/** What the physical output shows for us: a mode's size, and our two buffers of that size. */
interface Surface {
  readonly size: Size;
  readonly refreshMilliHz: number;
  readonly buffers: [OwnBuffer, OwnBuffer];
  /** Index of the buffer on screen. */
  front: number;
}

/** A change of what the physical output is asked to show, made when no frame is in flight. */
type Reconfigure = { readonly mode: Mode } | { readonly off: string };

export class ComposedOutput {
  private layout: Layout;
  /** A layout accepted since the last frame: it takes effect when the next frame is composed. */
  private nextLayout: Layout | undefined;
  private readonly slots = new Map<string, SlotOutput>();
  /** Undefined while the layout is not shown (`notShown` says why). */
  private surface: Surface | undefined;
  private notShown: string | undefined;
  private want: Reconfigure | undefined;
  private reconfiguring = false;
  /** A composed frame the physical output has not shown yet, and the guests' flips it carries. */
  private inflight: { buf: number; dones: ((r: FlipResult) => void)[]; planes: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private composing = false;
  /** Damage not tied to a slot (a slot gone, the layout changed), in output pixels. */
  private damage: Rect[] = [];
  private lastVblankNs: bigint | undefined;
  private shown = 0;
  private composedBytes = 0;
  /** Guest framebuffers asked of the output for a plane: ready, refused, or being imported. */
  private readonly prepared = new Map<number, boolean | 'pending'>();
  /** A frame was asked for while one was being made or in flight: make it after that one. */
  private frameWanted = false;
  /** Entries on overlay planes in the last frame submitted, and where (key → layer). */
  private onPlanes = new Map<string, PlaneLayer>();
  /** Why each other entry was composed by the CPU in that frame (key → reason). */
  private composedWhy = new Map<string, string>();
  private planeFrames = 0;
  private planeRefusals = 0;
  /**
   * After a refusal, the most layers the display took then, and the frame count it was at: tried
   * again with more only after PLANE_RETRY_FRAMES, so a refused frame is not tested and composed
   * twice every frame.
   */
  private planeCap: { layers: number; since: number; why: string } | undefined;
  private closed = false;
  private readonly host: SlotHost;

  private constructor(
    readonly physical: Output,
    layout: Layout,
    private readonly opts: ComposedOutputOptions,
  ) {
    this.layout = layout;
    // The slots read the refresh of the mode composed at now (60 Hz while not shown).
    const refresh = (): number => this.surface?.refreshMilliHz ?? 60000;
    this.host = {
      name: physical.name,
      get refreshMilliHz() {
        return refresh();
      },
      requestFrame: () => this.requestFrame(),
      currentFrame: () => this.physical.currentFrame(),
      forget: (fb) => this.forget(fb),
      pathOf: (key, fb) => this.pathOf(key, fb),
      layoutPlaceOf: (key) => this.layoutPlaceOf(key),
    };
  }

  /**
   * Takes `physical` over at the mode chosen for `layout` (modeForLayout), showing it (blank
   * rectangles until guests come). Rejects with an OutputError when no mode holds the layout or
   * the output refuses.
   */
  static async open(physical: Output, layout: Layout, opts: ComposedOutputOptions = {}): Promise<ComposedOutput> {
    if (physical.modes.length === 0)
      throw new OutputError(`output ${physical.name} has no mode to compose on`, Errno.ENODEV);
    const mode = modeForLayout(layout, physical.modes);
    if (!mode) throw new LayoutUnfitError(`${layoutUnfit(layout, physical.modes)}`, Errno.EINVAL);
    const c = new ComposedOutput(physical, layout, opts);
    await c.showAt(mode);
    return c;
  }

  get name(): string {
    return this.physical.name;
  }

  /** The size composed at now (undefined while the layout is not shown). */
  get size(): Size | undefined {
    return this.surface?.size;
  }

  /** The layout in force, or the one that will be at the next vblank. */
  get currentLayout(): Layout {
    return this.nextLayout ?? this.layout;
  }

  get stats(): ComposedOutputStats {
    return {
      framesShown: this.shown,
      bytesComposed: this.composedBytes,
      slots: this.slots.size,
      entries: this.currentLayout.entries.length,
      size: this.surface?.size,
      notShown: this.notShown,
      planes: this.surface ? 1 + this.onPlanes.size : 0,
      planeFrames: this.planeFrames,
      planeRefusals: this.planeRefusals,
      placements: this.currentLayout.entries.map((e) =>
        this.onPlanes.has(e.key)
          ? { key: e.key, plane: true }
          : { key: e.key, plane: false, why: this.composedWhy.get(e.key) ?? 'not composed yet' },
      ),
    };
  }

  /** Where the layout in force puts connector `key` (input follows it); undefined while not shown. */
  layoutPlaceOf(key: string): LayoutPlace | undefined {
    const size = this.surface?.size;
    if (!size) return undefined;
    const entries = this.currentLayout.entries;
    const z = entries.findIndex((e) => e.key === key);
    if (z < 0) return undefined;
    const e = entries[z]!;
    return { output: size, rect: e.rect, scaled: e.scaled, z };
  }

  /** Keys of the guest connectors attached now. */
  attached(): string[] {
    return [...this.slots.keys()];
  }

  /**
   * A new layout from the next vblank (at another mode of the output where the one now does not
   * hold it); the reason it cannot be shown, else undefined.
   */
  setLayout(layout: Layout): string | undefined {
    if (sameLayout(layout, this.currentLayout) && !this.notShown) return undefined;
    const mode = modeForLayout(layout, this.physical.modes);
    if (!mode) return layoutUnfit(layout, this.physical.modes);
    this.nextLayout = layout;
    if (!this.surface || !sameMode(this.surface, mode)) this.want = { mode };
    this.requestFrame();
    return undefined;
  }

  /**
   * The physical output came back, maybe with other modes (a monitor plugged in): the layout goes
   * on at the mode chosen for it among the new ones. Where none holds it, it is not shown and the
   * reason is returned: its guests keep running and keep their slots, their flips answered as not
   * shown, as on an unplugged output, until a monitor that can show it is plugged in or a layout
   * that fits is set. Scaling or clipping it instead would show the guests otherwise than the
   * operator placed them, or hide part of a guest's picture without a word.
   */
  outputChanged(): string | undefined {
    if (this.closed) return undefined;
    const layout = this.currentLayout;
    const mode = this.physical.modes.length > 0 ? modeForLayout(layout, this.physical.modes) : undefined;
    if (!mode) {
      const why = layoutUnfit(layout, this.physical.modes) ?? 'no mode of the output holds it';
      this.want = { off: why };
      this.requestFrame();
      return why;
    }
    if (!this.surface || !sameMode(this.surface, mode) || this.notShown) this.want = { mode };
    this.requestFrame();
    return undefined;
  }

  /** The guest connector `key` of `resolution` comes: its slot (an Output of its own). */
  attach(key: string, resolution: Size): SlotOutput {
    if (this.closed) throw new OutputError(`output ${this.name} is gone`, Errno.ENODEV);
    if (this.slots.has(key)) throw new OutputError(`${key} is already shown on ${this.name}`, Errno.EBUSY);
    const slot = new SlotOutput(this.host, key, resolution);
    this.slots.set(key, slot);
    this.requestFrame();
    return slot;
  }

  /** The slot's guest went: its rectangle turns blank at the next vblank. */
  detach(slot: SlotOutput): void {
    if (this.slots.get(slot.key) !== slot) return;
    this.slots.delete(slot.key);
    slot.close();
    const e = this.currentLayout.entries.find((x) => x.key === slot.key);
    if (e) this.damage.push(e.rect);
    this.requestFrame();
  }

  /** Stops composing and turns the output off; every slot is closed. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of this.slots.values()) s.close();
    this.slots.clear();
    await this.physical.setConfig(null).catch(() => undefined);
    this.dropSurface();
  }

  /** Buffers of `mode`'s size, the whole layout composed into the first, shown by a modeset. */
  private async showAt(mode: Mode): Promise<void> {
    const size = { width: mode.width, height: mode.height };
    const buffers: [OwnBuffer, OwnBuffer] = [this.own(size), this.own(size)];
    const surface: Surface = { size, refreshMilliHz: mode.refreshMilliHz, buffers, front: 0 };
    const full = { x: 0, y: 0, ...size };
    this.composedBytes += composeRegion(surface.buffers[0].target, full, this.layout.entries, (k) =>
      this.slots.get(k)?.picture(),
    );
    surface.buffers[1].stale = [full];
    const old = this.surface;
    try {
      await this.physical.setConfig({ fb: surface.buffers[0].desc, x: 0, y: 0, ...size });
    } catch (err) {
      this.free(surface);
      throw err;
    }
    this.surface = surface;
    this.lastVblankNs = undefined;
    // The modeset lit the primary alone.
    for (const k of this.onPlanes.keys()) this.composedWhy.set(k, 'composed after a modeset');
    this.onPlanes = new Map();
    if (old) this.free(old);
    // Ready for test-only commits of layers over them (our own scanout memory: at once).
    const prepare = this.physical.preparePlane;
    if (prepare && (this.physical.overlayPlanes ?? 0) > 0)
      await Promise.all(surface.buffers.map((b) => prepare.call(this.physical, b.desc).catch(() => false)));
  }

  /** A slot let go of `fb`: the output drops what it holds for it (an import for a plane). */
  private forget(fb: FramebufferDesc): void {
    if (!this.prepared.delete(fb.id)) return;
    this.physical.release(fb);
  }

  /** Whether `fb` can go on a plane now; the first time, its import is started and the answer is no. */
  private planeReady(fb: FramebufferDesc): boolean {
    const known = this.prepared.get(fb.id);
    if (known !== undefined) return known === true;
    const prepare = this.physical.preparePlane;
    if (!prepare) return false;
    this.prepared.set(fb.id, 'pending');
    prepare.call(this.physical, fb).then(
      (ok) => {
        if (this.prepared.get(fb.id) !== 'pending') {
          // Forgotten meanwhile: what the import made goes now.
          if (ok) this.physical.release(fb);
          return;
        }
        this.prepared.set(fb.id, ok);
        if (ok) this.requestFrame();
      },
      () => {
        if (this.prepared.get(fb.id) === 'pending') this.prepared.set(fb.id, false);
      },
    );
    return false;
  }

  /**
   * How the slot's framebuffer `fb` reaches the screen: on its plane (the card scans the guest's
   * buffer out) or composed into ours. Read from the frame submitted last, as `planes` is.
   */
  private pathOf(key: string, fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    if (this.onPlanes.get(key)?.fb.id === fb.id) return { path: 'dma-buf' };
    const why = this.composedWhy.get(key);
    return { path: 'copied', reason: `composed into output ${this.name}${why ? `: ${why}` : ''}` };
  }

  /**
   * The guests to put on overlay planes this frame, bottom to top, at most `n`, over `over` (the
   * buffer composed into), and why each other one is composed. None goes under a part of an entry
   * above it that the CPU draws (a plane is above everything composed).
   */
  private chooseLayers(
    n: number,
    over: FramebufferDesc,
  ): { layers: Map<string, PlaneLayer>; why: Map<string, string> } {
    const chosen = new Map<string, PlaneLayer>();
    const why = new Map<string, string>();
    const composedAbove: Rect[] = [];
    const entries = this.layout.entries;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      const layer = this.layerFor(e, n - chosen.size, composedAbove, over);
      if (typeof layer === 'string') {
        why.set(e.key, layer);
        composedAbove.push(e.rect);
        continue;
      }
      chosen.set(e.key, layer);
      // The rectangle's black border around a smaller picture is composed: nothing under it on a plane.
      if (!sameRect(layer.dst, e.rect)) composedAbove.push(e.rect);
    }
    return { layers: new Map([...chosen].reverse()), why };
  }

  /** Entry `e` on a plane over `over` (with `free` planes left), or why it is composed. */
  private layerFor(
    e: LayoutEntry,
    free: number,
    composedAbove: readonly Rect[],
    over: FramebufferDesc,
  ): PlaneLayer | string {
    const pic = this.slots.get(e.key)?.picture();
    if (!pic) return 'its guest is not there (blank)';
    const cfg = pic.cfg;
    if (!cfg) return 'its connector is off';
    let layer: PlaneLayer | undefined;
    if (e.scaled) {
      // The plane scales the viewport to the rectangle; a viewport short of the resolution has a
      // black border around it, drawn only by the CPU.
      if (cfg.x !== 0 || cfg.y !== 0 || cfg.width !== pic.resolution.width || cfg.height !== pic.resolution.height)
        return 'scaled, with a viewport smaller than its resolution';
      layer = {
        fb: cfg.fb,
        src: { x: cfg.srcX ?? 0, y: cfg.srcY ?? 0, width: cfg.width, height: cfg.height },
        dst: e.rect,
      };
    } else {
      layer = layerOf(e.rect, cfg);
      if (!layer) return 'its picture is outside its rectangle';
    }
    if (composedAbove.some((r) => intersect(r, e.rect))) return 'under a guest the CPU composes';
    if (free <= 0)
      return this.planeCap
        ? `${this.planeCap.why}: ${this.planeCap.layers} overlay plane${this.planeCap.layers === 1 ? '' : 's'} used until tried again (every ${PLANE_RETRY_FRAMES} frames)`
        : `no overlay plane left (${this.physical.overlayPlanes ?? 0} can stack above the primary)`;
    if (!this.planeReady(layer.fb))
      return this.prepared.get(layer.fb.id) === false
        ? 'the card cannot scan its buffer out'
        : 'its buffer is being imported for a plane';
    const fits =
      this.physical.layerFits?.(over, layer) ?? (isScaledLayer(layer) ? 'the output does not scale planes' : true);
    return fits === true ? layer : fits;
  }

  private dropSurface(): void {
    const s = this.surface;
    this.surface = undefined;
    if (s) this.free(s);
  }

  /** The output lets go of the buffers' framebuffers, then their memory goes. */
  private free(s: Surface): void {
    for (const b of s.buffers) {
      this.physical.release(b.desc);
      b.memory?.close();
    }
  }

  /** A buffer to compose into: the output's own scanout memory where it gives some, else ours. */
  private own(size: Size): OwnBuffer {
    const memory = this.opts.allocate?.(size);
    const target = memory ? targetOver(memory.bytes, memory.pitch, size) : makeTarget(size);
    const desc: FramebufferDesc = {
      id: nextComposedId--,
      width: size.width,
      height: size.height,
      fourcc: XRGB8888,
      pitch: target.pitch,
      offset: 0,
      buffer: { domid: 0 as DomId, size: target.pitch * size.height, bytes: target.bytes },
    };
    return { target, desc, memory, stale: [] };
  }

  /**
   * Something is to be shown: compose half a period before the next vblank, so the flips of every
   * guest that answers the last vblank's event within half a period go out together, and a loaded
   * dom0 still has half a period to compose before the vblank.
   */
  private requestFrame(): void {
    if (this.closed || this.timer) return;
    if (this.composing || this.inflight || this.reconfiguring) {
      // Asked while a frame is being made or waits for its vblank (an import for a plane finished,
      // say): remembered, or a still layout would never get the frame that shows it.
      this.frameWanted = true;
      return;
    }
    const period = 1e12 / this.host.refreshMilliHz;
    let delayMs = 0;
    const since = this.lastVblankNs === undefined ? undefined : Number(process.hrtime.bigint() - this.lastVblankNs);
    // A vblank time on another clock than ours (a driver's odd timestamps) is no guide: compose now.
    if (since !== undefined && since >= 0 && since < 1e9) {
      const next = Math.ceil(Math.max(since, 1) / period) * period;
      delayMs = Math.max(0, (next - period / 2 - since) / 1e6);
    }
    this.timer = setTimeout(this.compose, Math.floor(delayMs));
  }

  private readonly compose = (): void => {
    this.timer = undefined;
    this.frameWanted = false;
    if (this.closed || this.inflight || this.reconfiguring) return;
    if (this.want) return void this.reconfigure(this.want);
    const surface = this.surface;
    if (!surface) return this.answerNotShown();
    this.composing = true;
    const dones: ((r: FlipResult) => void)[] = [];
    let damage = this.damage;
    this.damage = [];
    if (this.nextLayout) {
      this.layout = this.nextLayout;
      this.nextLayout = undefined;
      damage = [{ x: 0, y: 0, ...surface.size }];
    }
    for (const slot of this.slots.values()) {
      const done = slot.latch();
      if (done) dones.push(done);
    }
    const n = this.physical.flipLayers ? (this.physical.overlayPlanes ?? 0) : 0;
    if (this.planeCap && this.shown - this.planeCap.since >= PLANE_RETRY_FRAMES) this.planeCap = undefined;
    const back = 1 - surface.front;
    const buf = surface.buffers[back]!;
    const { layers, why } =
      n > 0
        ? this.chooseLayers(Math.min(n, this.planeCap?.layers ?? n), buf.desc)
        : { layers: new Map<string, PlaneLayer>(), why: new Map(this.layout.entries.map((e) => [e.key, NO_PLANES])) };
    for (const slot of this.slots.values()) {
      if (!slot.dirty) continue;
      slot.dirty = false;
      const e = this.layout.entries.find((x) => x.key === slot.key);
      // A guest that stays on its plane, in the same place, needs nothing composed: its plane shows the new frame.
      const was = this.onPlanes.get(slot.key);
      const now = layers.get(slot.key);
      if (e && !(was && now && sameRect(was.dst, now.dst))) damage.push(e.rect);
    }
    // A guest coming onto a plane leaves a hole, one leaving it is drawn again; moved: both.
    for (const e of this.layout.entries) {
      const was = this.onPlanes.get(e.key);
      const now = layers.get(e.key);
      if ((was || now) && !(was && now && sameRect(was.dst, now.dst))) damage.push(e.rect);
    }
    this.composing = false;
    if (damage.length === 0 && dones.length === 0) return;
    const picture = (k: string): SlotPicture | undefined => this.slots.get(k)?.picture();
    const regions = mergeDamage([...buf.stale, ...damage], surface.size);
    for (const r of regions)
      this.composedBytes += composeRegion(buf.target, r, this.layout.entries, picture, (k) => layers.has(k));
    buf.stale = [];
    const other = surface.buffers[surface.front]!;
    other.stale = mergeDamage([...other.stale, ...damage], surface.size);
    // Test-only commits: while the display refuses (or the planes cannot stack them), the bottom
    // layer goes back to the CPU, with the reason.
    const refused: string[] = [];
    let refusal = '';
    for (let v = layers.size > 0 ? this.physical.testLayers!(buf.desc, [...layers.values()]) : true; v !== true;) {
      const bottom = layers.keys().next().value!;
      layers.delete(bottom);
      refused.push(bottom);
      why.set(bottom, v);
      refusal = v;
      v = layers.size > 0 ? this.physical.testLayers!(buf.desc, [...layers.values()]) : true;
    }
    if (refused.length > 0) {
      this.planeRefusals++;
      this.planeCap = { layers: layers.size, since: this.shown, why: refusal };
      // Their holes composed now, in this buffer and (what it lacks) the other.
      const holes = refused.map((k) => this.layout.entries.find((e) => e.key === k)!.rect);
      for (const r of mergeDamage(holes, surface.size))
        this.composedBytes += composeRegion(buf.target, r, this.layout.entries, picture, (k) => layers.has(k));
      other.stale = mergeDamage([...other.stale, ...holes], surface.size);
    }
    this.onPlanes = layers;
    this.composedWhy = why;
    this.inflight = { buf: back, dones, planes: layers.size };
    if (n > 0) this.physical.flipLayers!(buf.desc, [...layers.values()], this.shownOrDropped);
    else this.physical.flip(buf.desc, this.shownOrDropped);
  };

  /** The layout is not shown: each guest's queued flip is answered at once, as on an unplugged output. */
  private answerNotShown(): void {
    const reason = `layout not shown: ${this.notShown ?? 'no mode'}`;
    for (const slot of this.slots.values()) {
      const done = slot.latch();
      if (done) setImmediate(done, { shown: false, reason });
      slot.dirty = true;
    }
  }

  /** Applies a change of mode (or turns the output off), no frame in flight; then composes again. */
  private async reconfigure(want: Reconfigure): Promise<void> {
    this.want = undefined;
    this.reconfiguring = true;
    try {
      if ('off' in want) {
        this.notShown = want.off;
        await this.physical.setConfig(null);
        this.dropSurface();
      } else {
        if (this.nextLayout) {
          this.layout = this.nextLayout;
          this.nextLayout = undefined;
        }
        await this.showAt(want.mode);
        this.notShown = undefined;
        this.damage = [];
      }
    } catch (err) {
      this.opts.warn?.(`output ${this.name}: the layout could not be shown: ${(err as Error).message}`);
    } finally {
      this.reconfiguring = false;
    }
    if (this.closed) return this.dropSurface();
    this.requestFrame();
  }

  private readonly shownOrDropped = (r: FlipResult): void => {
    const f = this.inflight;
    this.inflight = undefined;
    if (!f) return;
    if (r.shown && this.surface) {
      this.surface.front = f.buf;
      this.lastVblankNs = r.timestampNs;
      this.shown++;
      if (f.planes > 0) this.planeFrames++;
    } else if (!r.shown && f.planes > 0 && this.surface) {
      // Not shown: the planes may not be lit as asked; the next frame composes those guests again.
      for (const k of this.onPlanes.keys()) {
        const e = this.layout.entries.find((x) => x.key === k);
        if (e) this.damage.push(e.rect);
        this.composedWhy.set(k, `its frame on a plane was not shown (${r.reason})`);
      }
      this.onPlanes = new Map();
    }
    // Not shown: the buffer we drew into holds the newest picture and is drawn into again next time.
    for (const done of f.dones) done(r);
    if (
      this.frameWanted ||
      this.want ||
      this.damage.length > 0 ||
      this.nextLayout ||
      [...this.slots.values()].some((s) => s.hasPending || s.dirty)
    )
      this.requestFrame();
  };
}

/** A 1:1 entry's picture on a plane: the guest's viewport at the rectangle's top-left, clipped to it. */
function layerOf(rect: Rect, cfg: OutputConfig): PlaneLayer | undefined {
  const at = { x: rect.x + cfg.x, y: rect.y + cfg.y, width: cfg.width, height: cfg.height };
  const dst = intersect(rect, at);
  if (!dst) return undefined;
  const src = {
    x: (cfg.srcX ?? 0) + dst.x - at.x,
    y: (cfg.srcY ?? 0) + dst.y - at.y,
    width: dst.width,
    height: dst.height,
  };
  return { fb: cfg.fb, src, dst };
}

const NO_PLANES = 'the output has no overlay plane';

function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

function sameMode(s: Surface, m: Mode): boolean {
  return s.size.width === m.width && s.size.height === m.height && s.refreshMilliHz === m.refreshMilliHz;
}

/** Damage clipped to the output; many small rectangles become their bounding box, then the whole output. */
function mergeDamage(rects: readonly Rect[], size: Size): Rect[] {
  const full = { x: 0, y: 0, ...size };
  const inside = rects.map((r) => intersect(r, full)).filter((r): r is Rect => r !== undefined);
  const unique: Rect[] = [];
  for (const r of inside) {
    if (unique.some((u) => contains(u, r))) continue;
    for (let i = unique.length - 1; i >= 0; i--) if (contains(r, unique[i]!)) unique.splice(i, 1);
    unique.push(r);
  }
  return unique.length > MAX_DAMAGE_RECTS ? [full] : unique;
}

function contains(a: Rect, b: Rect): boolean {
  return b.x >= a.x && b.y >= a.y && b.x + b.width <= a.x + a.width && b.y + b.height <= a.y + a.height;
}
