// A virtual output with no device behind it: a mode, a vblank clock at its rate, and the frame it
// shows now. Scan-out reads the guest's mapped pages where they are (path `mapped`); pixels become
// RGBA only when someone asks for the frame. A framebuffer released while shown keeps its pages
// (the buffer's holds) until the output shows something else, so the last picture stays readable
// without a full-frame conversion on the turn of the guest's FB_DETACH or DBUF_DESTROY.
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import {
  OutputError,
  viewportError,
  type FlipResult,
  type Frame,
  type FramebufferDesc,
  type Mode,
  type Output,
  type OutputConfig,
  type ScanoutPath,
} from '../output.js';
import { formatByFourcc } from '../../displif/formats.js';
import { drawRegion } from './pixel-convert.js';
import { VblankClock } from './vblank-clock.js';
import { Errno } from '../../util/errno.js';

export interface HeadlessOutputStats {
  readonly flipsShown: number;
  readonly flipsDropped: number;
  readonly modesets: number;
}

/**
 * What is on screen: a live framebuffer in a viewport, or one the guest released while it was
 * shown, whose pages the output holds (`letGo` ends the hold) until it shows something else.
 */
type Showing =
  | { readonly kind: 'off' }
  | { readonly kind: 'live'; readonly cfg: OutputConfig; readonly fb: FramebufferDesc }
  | { readonly kind: 'kept'; readonly cfg: OutputConfig; readonly fb: FramebufferDesc; readonly letGo: () => void };

/** Why a queued flip was not shown: one result object per reason, shared (results are read-only). */
const DROPPED = {
  replaced: Object.freeze({ shown: false, reason: 'replaced by a newer flip before the vblank' }),
  disabled: Object.freeze({ shown: false, reason: 'output disabled' }),
  released: Object.freeze({ shown: false, reason: 'framebuffer released' }),
  gone: Object.freeze({ shown: false, reason: 'output gone' }),
} satisfies Record<string, FlipResult>;

/**
 * The result of a flip shown at `timestampNs`: outputs on one vblank grid share the instant, so
 * they share one (read-only) result instead of making one per flip.
 */
let lastShown: Extract<FlipResult, { shown: true }> = Object.freeze({ shown: true, timestampNs: -1n });
function shownAt(timestampNs: bigint): FlipResult {
  if (lastShown.timestampNs !== timestampNs) lastShown = Object.freeze({ shown: true, timestampNs });
  return lastShown;
}

const noop = (): void => {};

const { ENODEV } = Errno;

// node:crypto (and OpenSSL's initialisation) is loaded by the first hash, not at start: a daemon
// only hashes a frame when a test or the demo asks for one.
let crypto: typeof NodeCrypto | undefined;
function sha1(bytes: Uint8Array): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  return crypto.createHash('sha1').update(bytes).digest('hex');
}

export class HeadlessOutput implements Output {
  readonly modes: readonly Mode[];
  private readonly clock: VblankClock;
  private showing: Showing = { kind: 'off' };
  /** The flip queued for the next vblank, as two fields rather than an object per flip. */
  private pendingFb: FramebufferDesc | undefined;
  private pendingDone: ((r: FlipResult) => void) | undefined;
  /** The clock will call onVblank at its next vblank (set while a flip is pending). */
  private awaitingVblank = false;
  private sequence = 0;
  private cached: { sequence: number; frame: Frame } | undefined;
  private cachedHash: { sequence: number; hash: string } | undefined;
  private shown = 0;
  private dropped = 0;
  private modesets = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly mode: Mode,
  ) {
    if (!(mode.width > 0 && mode.height > 0))
      throw new RangeError(`headless output ${name}: mode ${mode.width}x${mode.height}`);
    this.modes = [mode];
    this.clock = new VblankClock(mode.refreshMilliHz);
  }

  get enabled(): boolean {
    return this.showing.kind !== 'off';
  }

  get stats(): HeadlessOutputStats {
    return { flipsShown: this.shown, flipsDropped: this.dropped, modesets: this.modesets };
  }

  /** The framebuffers this output holds (shown or queued); the backend's count of what is in use. */
  get heldFramebuffers(): number {
    const live = this.showing.kind === 'live' ? this.showing.fb : undefined;
    const queued = this.pendingFb;
    return (live ? 1 : 0) + (queued && queued !== live ? 1 : 0);
  }

  setConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.closed) return Promise.reject(new OutputError(`output ${this.name} is gone`, ENODEV));
    if (cfg === null) {
      this.dropPending(DROPPED.disabled);
      this.show({ kind: 'off' });
      this.bump();
      return Promise.resolve();
    }
    const bad = viewportError(this.name, cfg, this.mode);
    if (bad) return Promise.reject(bad);
    this.show({ kind: 'live', cfg, fb: cfg.fb });
    this.modesets++;
    this.bump();
    return Promise.resolve();
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    if (this.closed || this.showing.kind === 'off') {
      this.dropped++;
      setImmediate(done, this.closed ? DROPPED.gone : DROPPED.disabled);
      return;
    }
    // One flip per vblank, as a display engine: a newer one replaces a queued one. The wait for
    // the vblank stays as it is: a compositor flipping faster than the refresh would otherwise
    // cancel and re-arm the shared vblank timer once per flip.
    this.dropPending(DROPPED.replaced, true);
    this.pendingFb = fb;
    this.pendingDone = done;
    if (!this.awaitingVblank) {
      this.awaitingVblank = true;
      this.clock.next(this.onVblank);
    }
  }

  release(fb: FramebufferDesc): void {
    if (this.pendingFb?.id === fb.id) this.dropPending(DROPPED.released);
    if (this.showing.kind === 'live' && this.showing.fb.id === fb.id) {
      // Keep showing the last picture, as a CRTC whose framebuffer was removed under it would until
      // the next modeset: hold its pages (converted only if someone asks for the frame) rather than
      // convert the whole frame now, on the turn of a request any guest may send in a loop.
      const letGo = fb.buffer.retain?.() ?? noop;
      this.showing = { kind: 'kept', cfg: this.showing.cfg, fb: this.showing.fb, letGo };
    }
  }

  currentFrame(): Frame | undefined {
    if (this.showing.kind === 'off') return undefined;
    if (this.cached?.sequence === this.sequence) return this.cached.frame;
    const frame = this.render();
    this.cached = { sequence: this.sequence, frame };
    return frame;
  }

  /** A hash of the frame shown now (cached per frame): cheap change detection for tests and the demo. */
  contentHash(): string | undefined {
    if (this.cachedHash?.sequence === this.sequence) return this.cachedHash.hash;
    const frame = this.currentFrame();
    if (!frame) return undefined;
    const hash = sha1(frame.rgba);
    this.cachedHash = { sequence: this.sequence, hash };
    return hash;
  }

  pathOf(_fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    return { path: 'mapped' };
  }

  /** Drops queued work and stops the clock; idempotent. */
  close(): void {
    if (this.closed) return;
    this.dropPending(DROPPED.gone);
    this.closed = true;
    this.clock.close();
    this.show({ kind: 'off' });
    this.cached = undefined;
  }

  private readonly onVblank = (timestampNs: bigint): void => {
    this.awaitingVblank = false;
    const fb = this.pendingFb;
    const done = this.pendingDone;
    if (!fb || !done) return;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    if (this.showing.kind === 'off') {
      this.dropped++;
      done(DROPPED.disabled);
      return;
    }
    this.show({ kind: 'live', cfg: this.showing.cfg, fb });
    this.shown++;
    this.bump();
    done(shownAt(timestampNs));
  };

  /** `keepWaiting`: a newer flip takes the queued one's place at the same vblank. */
  private dropPending(why: FlipResult, keepWaiting = false): void {
    const done = this.pendingDone;
    if (!done) return;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    this.dropped++;
    if (!keepWaiting) {
      this.awaitingVblank = false;
      this.clock.cancel();
    }
    setImmediate(done, why);
  }

  /** Puts `next` on screen; a released framebuffer's pages are let go once it is off. */
  private show(next: Showing): void {
    const prev = this.showing;
    this.showing = next;
    if (prev.kind === 'kept') prev.letGo();
  }

  private bump(): void {
    this.sequence++;
  }

  private render(): Frame {
    const { width, height } = this.mode;
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    if (this.showing.kind !== 'off') {
      const { cfg, fb } = this.showing;
      const offset = fb.offset + (cfg.srcY ?? 0) * fb.pitch + columnOffset(fb.fourcc, cfg.srcX ?? 0);
      drawRegion(
        { src: fb.buffer.bytes, offset, pitch: fb.pitch, width: cfg.width, height: cfg.height, fourcc: fb.fourcc },
        { rgba, width, height, x: cfg.x, y: cfg.y },
      );
    }
    return { width, height, rgba, sequence: this.sequence };
  }
}

/** Byte offset of column x in a row; YUYV starts on a whole macropixel. Unknown formats draw nothing anyway. */
export function columnOffset(fourcc: number, x: number): number {
  const fmt = formatByFourcc(fourcc);
  if (!fmt) return 0;
  return fmt.yuv ? Math.floor(x / 2) * 4 : x * fmt.cpp;
}
