// One guest connector's place in a composed output, as the Output seam the backend drives: the
// guest sets its configuration and flips here exactly as on an output of its own, at its own
// resolution. It learns nothing of the other guests: its mode is its own resolution, its flips
// complete at the first vblank of the composed output that shows them, and a flip is answered
// the same whatever the others do. What the slot shows stays until the guest shows something else,
// including a framebuffer it released (its pages are held until then).
import { Errno } from '../../util/errno.js';
import type { Size } from '../../util/geometry.js';
import {
  OutputError,
  viewportError,
  type FlipResult,
  type Frame,
  type FramebufferDesc,
  type Mode,
  type Output,
  type OutputConfig,
  type LayoutPlace,
  type ScanoutPath,
} from '../output.js';
import type { SlotPicture } from './blit.js';
import { slotFrame } from './slot-frame.js';

/** What the slot needs of the composed output it sits in. */
export interface SlotHost {
  readonly name: string;
  readonly refreshMilliHz: number;
  /** Something changed: compose at the next vblank. */
  requestFrame(): void;
  /** The composed output's picture (what an operator's snapshot of this connector shows). */
  currentFrame(): Frame | undefined;
  /** The slot will not show `fb` again: whatever the output holds for it may go. */
  forget(fb: FramebufferDesc): void;
  /** How the slot's `fb` reaches the screen now: on a plane of its own, or composed. */
  pathOf(key: string, fb: FramebufferDesc): { path: ScanoutPath; reason?: string };
  /** Where the layout in force puts the slot `key` (undefined while the layout is not shown). */
  layoutPlaceOf(key: string): LayoutPlace | undefined;
}

type Showing =
  | { readonly kind: 'off' }
  | { readonly kind: 'live'; readonly cfg: OutputConfig }
  | { readonly kind: 'kept'; readonly cfg: OutputConfig; readonly letGo: () => void };

const DROPPED = {
  replaced: Object.freeze({ shown: false, reason: 'replaced by a newer flip before the vblank' }),
  disabled: Object.freeze({ shown: false, reason: 'output disabled' }),
  released: Object.freeze({ shown: false, reason: 'framebuffer released' }),
  gone: Object.freeze({ shown: false, reason: 'output gone' }),
} satisfies Record<string, FlipResult>;

const noop = (): void => {};

export class SlotOutput implements Output {
  readonly modes: readonly Mode[];
  private showing: Showing = { kind: 'off' };
  private pendingFb: FramebufferDesc | undefined;
  private pendingDone: ((r: FlipResult) => void) | undefined;
  /** The picture changed since the composed output last drew it. */
  dirty = true;
  private closed = false;
  /** Counts what the slot shows (each new frame or configuration), for ownFrame's sequence. */
  private sequence = 0;
  private ownCached: { readonly sequence: number; readonly frame: Frame | undefined } | undefined;

  constructor(
    private readonly host: SlotHost,
    /** The layout entry's key (`GUEST/UNIQUE_ID`). */
    readonly key: string,
    readonly resolution: Size,
  ) {
    this.modes = [{ ...resolution, refreshMilliHz: host.refreshMilliHz, preferred: true }];
  }

  /** The composed output's name: status, snapshots and the viewer show the connector there. */
  get name(): string {
    return this.host.name;
  }

  get hasPending(): boolean {
    return this.pendingDone !== undefined;
  }

  /** What the composition draws for this slot now. */
  picture(): SlotPicture {
    return { resolution: this.resolution, cfg: this.showing.kind === 'off' ? null : this.showing.cfg };
  }

  setConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.closed) return Promise.reject(new OutputError(`output ${this.name} is gone`, Errno.ENODEV));
    if (cfg === null) {
      this.dropPending(DROPPED.disabled);
      this.show({ kind: 'off' });
      return Promise.resolve();
    }
    const bad = viewportError(this.name, cfg, this.resolution);
    if (bad) return Promise.reject(bad);
    this.show({ kind: 'live', cfg });
    return Promise.resolve();
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    if (this.closed || this.showing.kind === 'off') {
      setImmediate(done, this.closed ? DROPPED.gone : DROPPED.disabled);
      return;
    }
    this.dropPending(DROPPED.replaced);
    this.pendingFb = fb;
    this.pendingDone = done;
    this.host.requestFrame();
  }

  release(fb: FramebufferDesc): void {
    if (this.pendingFb?.id === fb.id) this.dropPending(DROPPED.released);
    if (!this.closed && this.showing.kind === 'live' && this.showing.cfg.fb.id === fb.id) {
      // Still on screen, and drawn again whenever a guest above it flips: hold its pages.
      const letGo = fb.buffer.retain?.() ?? noop;
      this.showing = { kind: 'kept', cfg: this.showing.cfg, letGo };
      return;
    }
    if (this.showing.kind !== 'kept' || this.showing.cfg.fb.id !== fb.id) this.host.forget(fb);
  }

  currentFrame(): Frame | undefined {
    return this.host.currentFrame();
  }

  /** The guest's own picture at its resolution (the viewer's view of this connector alone). */
  connectorFrame(): Frame | undefined {
    if (this.ownCached?.sequence !== this.sequence)
      this.ownCached = { sequence: this.sequence, frame: slotFrame(this.picture(), this.sequence) };
    return this.ownCached.frame;
  }

  layoutPlace(): LayoutPlace | undefined {
    return this.closed ? undefined : this.host.layoutPlaceOf(this.key);
  }

  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    return this.host.pathOf(this.key, fb);
  }

  /**
   * The composed output's vblank is about to be drawn: the queued flip becomes what the slot
   * shows. Returns its completion, to be called when that frame is on screen.
   */
  latch(): ((r: FlipResult) => void) | undefined {
    const fb = this.pendingFb;
    const done = this.pendingDone;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    if (!fb || !done) return undefined;
    if (this.showing.kind === 'off') {
      setImmediate(done, DROPPED.disabled);
      return undefined;
    }
    this.show({ kind: 'live', cfg: { ...this.showing.cfg, fb } });
    return done;
  }

  /** The guest's claim ended: queued work dropped, held pages let go. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.dropPending(DROPPED.gone);
    this.closed = true;
    this.show({ kind: 'off' });
  }

  private dropPending(why: FlipResult): void {
    const done = this.pendingDone;
    if (!done) return;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    setImmediate(done, why);
  }

  private show(next: Showing): void {
    const prev = this.showing;
    this.showing = next;
    this.sequence++;
    this.ownCached = undefined;
    if (prev.kind === 'kept') {
      prev.letGo();
      this.host.forget(prev.cfg.fb);
    }
    this.dirty = true;
    if (!this.closed) this.host.requestFrame();
  }
}
