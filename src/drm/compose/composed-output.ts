// Several guest connectors on one dom0 output: each guest drives a SlotOutput of its own, and this
// composes them with the CPU into buffers of ours that the physical output (headless, KMS,
// anything behind the Output seam) flips to like any framebuffer. Only what changed is redrawn:
// the rectangles of guests that flipped or changed configuration (and, in the buffer that was on
// screen meanwhile, what changed in the other). Frames are composed shortly before the output's
// next vblank, so every guest that flipped since the last one is shown at that vblank together and
// gets its flip event then, whatever the others do; a guest that does not flip keeps its picture.
import { Errno } from '../../util/errno.js';
import type { DomId } from '../../util/ids.js';
import type { Rect, Size } from '../../util/geometry.js';
import { OutputError, type FlipResult, type FramebufferDesc, type Output } from '../output.js';
import { composeRegion, makeTarget, type ComposeTarget } from './blit.js';
import { intersect, layoutProblem, sameLayout, type Layout } from './layout.js';
import { SlotOutput, type SlotHost } from './slot-output.js';

const XRGB8888 = 0x34325258;
/** Composed framebuffers take ids below zero: the backend's guest framebuffers count up from one. */
let nextComposedId = -1;
/** More separate damaged rectangles than this in one frame are redrawn as the whole output. */
const MAX_DAMAGE_RECTS = 32;

export interface ComposedOutputStats {
  /** Composed frames the physical output showed. */
  readonly framesShown: number;
  /** Bytes written into our buffers by composition (the CPU path's cost). */
  readonly bytesComposed: number;
  readonly slots: number;
  readonly entries: number;
}

interface OwnBuffer {
  readonly target: ComposeTarget;
  readonly desc: FramebufferDesc;
  /** Where this buffer differs from the newest picture. */
  stale: Rect[];
}

export class ComposedOutput {
  private layout: Layout;
  /** A layout accepted since the last frame: it takes effect when the next frame is composed. */
  private nextLayout: Layout | undefined;
  private readonly slots = new Map<string, SlotOutput>();
  private readonly buffers: [OwnBuffer, OwnBuffer];
  /** Index of the buffer on screen. */
  private front = 0;
  /** A composed frame the physical output has not shown yet, and the guests' flips it carries. */
  private inflight: { buf: number; dones: ((r: FlipResult) => void)[] } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private composing = false;
  /** Damage not tied to a slot (a slot gone, the layout changed), in output pixels. */
  private damage: Rect[] = [];
  private lastVblankNs: bigint | undefined;
  private shown = 0;
  private composedBytes = 0;
  private closed = false;
  private readonly host: SlotHost;

  private constructor(
    readonly physical: Output,
    readonly size: Size,
    readonly refreshMilliHz: number,
    layout: Layout,
  ) {
    this.layout = layout;
    const own = (): OwnBuffer => {
      const target = makeTarget(size);
      const desc: FramebufferDesc = {
        id: nextComposedId--,
        width: size.width,
        height: size.height,
        fourcc: XRGB8888,
        pitch: target.pitch,
        offset: 0,
        buffer: { domid: 0 as DomId, size: target.bytes.length, bytes: target.bytes },
      };
      return { target, desc, stale: [] };
    };
    this.buffers = [own(), own()];
    this.host = {
      name: physical.name,
      refreshMilliHz,
      requestFrame: () => this.requestFrame(),
      currentFrame: () => this.physical.currentFrame(),
    };
  }

  /**
   * Takes `physical` over at its preferred mode, showing `layout` (blank rectangles until guests
   * come). Rejects with an OutputError when the layout does not fit or the output refuses.
   */
  static async open(physical: Output, layout: Layout): Promise<ComposedOutput> {
    const mode = physical.modes.find((m) => m.preferred) ?? physical.modes[0];
    if (!mode) throw new OutputError(`output ${physical.name} has no mode to compose on`, Errno.ENODEV);
    const problem = layoutProblem(layout, mode);
    if (problem) throw new OutputError(`layouts.${physical.name}: ${problem}`, Errno.EINVAL);
    const c = new ComposedOutput(physical, { width: mode.width, height: mode.height }, mode.refreshMilliHz, layout);
    const full = { x: 0, y: 0, ...c.size };
    c.composedBytes += composeRegion(c.buffers[0].target, full, layout.entries, () => undefined);
    c.buffers[1].stale = [full];
    await physical.setConfig({ fb: c.buffers[0].desc, x: 0, y: 0, width: mode.width, height: mode.height });
    return c;
  }

  get name(): string {
    return this.physical.name;
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
    };
  }

  /** Keys of the guest connectors attached now. */
  attached(): string[] {
    return [...this.slots.keys()];
  }

  /** A new layout from the next vblank; the reason it cannot be shown, else undefined. */
  setLayout(layout: Layout): string | undefined {
    if (sameLayout(layout, this.currentLayout)) return undefined;
    const problem = layoutProblem(layout, this.size);
    if (problem) return problem;
    this.nextLayout = layout;
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
    if (e) this.addDamage(e.rect);
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
    for (const b of this.buffers) this.physical.release(b.desc);
  }

  private addDamage(r: Rect): void {
    this.damage.push(r);
  }

  /**
   * Something is to be shown: compose half a period before the next vblank, so the flips of every
   * guest that answers the last vblank's event within half a period go out together, and a loaded
   * dom0 still has half a period to compose before the vblank.
   */
  private requestFrame(): void {
    if (this.closed || this.composing || this.inflight || this.timer) return;
    const period = 1e12 / this.refreshMilliHz;
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
    if (this.closed || this.inflight) return;
    this.composing = true;
    const dones: ((r: FlipResult) => void)[] = [];
    let damage = this.damage;
    this.damage = [];
    if (this.nextLayout) {
      this.layout = this.nextLayout;
      this.nextLayout = undefined;
      damage = [{ x: 0, y: 0, ...this.size }];
    }
    for (const slot of this.slots.values()) {
      const done = slot.latch();
      if (done) dones.push(done);
      if (!slot.dirty) continue;
      slot.dirty = false;
      const e = this.layout.entries.find((x) => x.key === slot.key);
      if (e) damage.push(e.rect);
    }
    this.composing = false;
    if (damage.length === 0 && dones.length === 0) return;
    const back = 1 - this.front;
    const buf = this.buffers[back]!;
    const regions = mergeDamage([...buf.stale, ...damage], this.size);
    for (const r of regions)
      this.composedBytes += composeRegion(buf.target, r, this.layout.entries, (k) => this.slots.get(k)?.picture());
    buf.stale = [];
    const other = this.buffers[this.front]!;
    other.stale = mergeDamage([...other.stale, ...damage], this.size);
    this.inflight = { buf: back, dones };
    this.physical.flip(buf.desc, this.shownOrDropped);
  };

  private readonly shownOrDropped = (r: FlipResult): void => {
    const f = this.inflight;
    this.inflight = undefined;
    if (!f) return;
    if (r.shown) {
      this.front = f.buf;
      this.lastVblankNs = r.timestampNs;
      this.shown++;
    }
    // Not shown: the buffer we drew into holds the newest picture and is drawn into again next time.
    for (const done of f.dones) done(r);
    if (this.damage.length > 0 || this.nextLayout || [...this.slots.values()].some((s) => s.hasPending || s.dirty))
      this.requestFrame();
  };
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
