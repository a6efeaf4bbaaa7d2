// A guest connector as a window of the dom0 compositor. The compositor is this output's display
// engine: a flip goes to the window as the guest's own dma-buf where the compositor takes it
// (zero-copy, see window-dmabufs.ts), else its pixels are copied into a free half of the window's
// wl_shm pool; either is committed, and the guest hears its flip was shown when the compositor says
// so: wp_presentation's "presented" where offered (the time it turned to light), else the frame
// callback. The next commit waits for the frame callback (the compositor asking for a frame), so a
// guest never flips faster than the window shows and commits never pile up in the compositor.
// A newer flip waiting behind a frame in flight replaces the waiting one, as on a display engine.
//
// A window the compositor stops drawing (minimised, on another workspace, covered where the
// compositor culls) gets no callbacks: after a commit is left unanswered for HIDDEN_CYCLES of the
// compositor's own frame cycles (at least HIDDEN_AFTER_MS, at most HIDDEN_AFTER_MAX_MS) the output
// calls the window hidden and answers the guest's flips itself at HIDDEN_FLIP_HZ, as dropped, without
// copying them; the newest one is shown when the compositor draws the window again. Measuring the
// cycle keeps a slow compositor (a loaded or emulated host drawing a few frames a second) from
// counting as one that stopped drawing whenever one of its frames is late. The guest keeps running
// at a low rate rather than stalling on its flips, and dom0 spends nothing on frames nobody sees.
//
// Without a window (the user closed it, or the compositor went away) the connector turns headless:
// an inner headless output at the same mode paces and keeps the picture, so the guest runs on.
// The window keeps the guest's mode whatever size the compositor suggests: pixels are shown 1:1
// (a full-screen window on a larger wl_output is centred on black by the compositor, as
// xdg-shell asks of it), never scaled.
import {
  OutputError,
  type FlipResult,
  type Frame,
  type FramebufferDesc,
  type Mode,
  type Output,
  type OutputConfig,
  type ScanoutPath,
} from '../output.js';
import { HeadlessOutput } from '../headless/headless-output.js';
import { FallbackStats } from '../kms/fallbacks.js';
import type { WaylandConnection, WindowEvent, WindowHandle } from './wayland-connection.js';
import { WL_SHM_FORMAT_XRGB8888, paintViewport, shmFrame, type ShmTarget } from './shm-paint.js';
import { WindowDmabufs, type WindowPlan } from './window-dmabufs.js';
import type { WindowInput } from './window-input.js';

const ENODEV = 19;
/** CLOCK_MONOTONIC: presentation times on it are on process.hrtime's clock too. */
const CLOCK_MONOTONIC = 1;

/**
 * A commit unanswered this long means the compositor is not drawing the window, however fast it
 * draws: half the backend's 1 s flip deadline.
 */
export const HIDDEN_AFTER_MS = 500;
/** A compositor slower than HIDDEN_AFTER_MS / HIDDEN_CYCLES a frame gets this many of its cycles. */
export const HIDDEN_CYCLES = 4;
/**
 * Never later than this: the flip in flight may have waited a cycle behind the one before, and the
 * backend's flip deadline (1 s from the guest's request) must not be the one to answer it.
 */
export const HIDDEN_AFTER_MAX_MS = 750;
/** The rate a hidden window's guest is paced at. */
export const HIDDEN_FLIP_HZ = 10;

const DROPPED = {
  replaced: Object.freeze({ shown: false, reason: 'replaced by a newer flip before the compositor took it' }),
  disabled: Object.freeze({ shown: false, reason: 'output disabled' }),
  released: Object.freeze({ shown: false, reason: 'framebuffer released' }),
  gone: Object.freeze({ shown: false, reason: 'output gone' }),
  windowGone: Object.freeze({ shown: false, reason: 'window closed or compositor gone before the frame was shown' }),
  discarded: Object.freeze({ shown: false, reason: 'discarded by the compositor (wp_presentation)' }),
  hidden: Object.freeze({ shown: false, reason: 'the compositor is not drawing the window (hidden)' }),
  noFeedback: Object.freeze({ shown: false, reason: 'no presentation feedback from the compositor' }),
} satisfies Record<string, FlipResult>;

/** The copy reason of a framebuffer not planned yet (or shown before its plan is known). */
const SHM_REASON = 'wl_shm: the compositor reads a copy in shared memory';

/** Why an output has no window: the user closed it (it stays closed), or there is no compositor. */
export type WindowlessReason = 'closed' | 'disconnected';

/** How the guest's flips are answered: by the compositor's frame callbacks or presentation feedback. */
export type WaylandPacing = 'presentation' | 'frame-callback';

/** A commit whose flip awaits the compositor's word; `done` undefined for a modeset's picture or once answered (hidden). */
interface Unanswered {
  done: ((r: FlipResult) => void) | undefined;
}

/** Commits awaiting presentation feedback beyond this are a compositor that sends none: the oldest is let go. */
const MAX_UNANSWERED = 4;

interface Window {
  readonly conn: WaylandConnection;
  readonly handle: WindowHandle;
  readonly targets: readonly [ShmTarget, ShmTarget];
  /** Remade when the viewport changes (what a window can show of a dma-buf depends on it). */
  dmabufs: WindowDmabufs;
  readonly pacing: WaylandPacing;
  readonly clock: number;
  configured: boolean;
  /** The compositor holds the shm buffer (committed, not yet released). */
  readonly busy: [boolean, boolean];
  /** The configuration generation each buffer was painted under (a new one clears it first). */
  readonly painted: [number, number];
  /** A commit awaits its frame callback: the next one waits. */
  frameDue: boolean;
  /** Commits in order, answered by the frame callback or by presentation feedback (in commit order). */
  readonly unanswered: Unanswered[];
  /** What the window shows: an shm half, or a guest framebuffer as a dma-buf. */
  shows: { readonly kind: 'shm'; readonly b: 0 | 1 } | { readonly kind: 'dma-buf'; fb: FramebufferDesc | undefined };
  /** No answer for hiddenAfterMs(): flips are answered by `hiddenTicker` until the compositor draws again. */
  stallTimer: NodeJS.Timeout | undefined;
  hiddenTicker: NodeJS.Timeout | undefined;
  /** When the commit awaiting its frame callback was made (performance.now()). */
  committedAtMs: number;
  /** The compositor's frame cycle: commit to frame callback, a moving average of drawn frames; 0 before one. */
  cycleMs: number;
  /** When the window was called hidden (performance.now()); the flips dropped since then. */
  hiddenSinceMs: number;
  hiddenDropped: number;
}

/** What the output tells its owner of a window going hidden and being drawn again (for its log). */
export type HiddenChange =
  | { readonly hidden: true; readonly unansweredMs: number; readonly cycleMs: number }
  | { readonly hidden: false; readonly hiddenMs: number; readonly dropped: number };

type Surface =
  { readonly kind: 'window'; readonly w: Window } | { readonly kind: 'none'; readonly why: WindowlessReason };

export interface WaylandOutputStats {
  readonly flipsShown: number;
  readonly flipsDropped: number;
  readonly commits: number;
  /** Commits of the guest's own buffer (zero-copy). */
  readonly dmabufCommits: number;
  /** Flips answered by wp_presentation's presented feedback. */
  readonly flipsPresented: number;
  readonly bytesCopied: number;
  readonly windowless: WindowlessReason | undefined;
  /** The window is not drawn by the compositor: the guest is paced at HIDDEN_FLIP_HZ. */
  readonly hidden: boolean;
  /** Times the window was called hidden. */
  readonly hiddenSpells: number;
  /** The compositor's measured frame cycle (ms; 0 before a frame), and the wait that calls the window hidden. */
  readonly frameCycleMs: number;
  readonly hiddenAfterMs: number;
  /** How flips are answered while there is a window. */
  readonly pacing: WaylandPacing | undefined;
}

export interface WindowSpec {
  readonly title: string;
  readonly appId: string;
  /** Full screen on this wl_output (its name), else a window. */
  readonly fullscreenOn?: string;
}

export interface WaylandOutputOptions {
  /** Told when the user closes the window (a log line, status). */
  readonly onClosedByUser?: (o: WaylandOutput) => void;
  /** Told when the compositor stops drawing the window and when it draws it again (a log line). */
  readonly onHiddenChange?: (o: WaylandOutput, change: HiddenChange) => void;
  /** Why framebuffers are copied, counted once per framebuffer (the backend's, shared by its outputs). */
  readonly fallbacks?: FallbackStats;
  /** The operator's zero-copy switch (zero-copy = off copies every framebuffer). */
  readonly zeroCopy?: () => boolean;
}

export class WaylandOutput implements Output {
  readonly modes: readonly Mode[];
  /** Paces and remembers while there is no window; validates configurations always. */
  private readonly headless: HeadlessOutput;
  private readonly fallbacks: FallbackStats;
  private surface: Surface = { kind: 'none', why: 'disconnected' };
  private cfg: OutputConfig | null = null;
  private generation = 0;
  /** The flip waiting for the window; `pendingDone` undefined once answered (hidden) or for a modeset. */
  private pendingFb: FramebufferDesc | undefined;
  private pendingDone: ((r: FlipResult) => void) | undefined;
  /** The configuration's picture (or black) is to be committed though no flip waits. */
  private pictureDue = false;
  private scratchBytes: Uint8Array | undefined;
  private shown = 0;
  private dropped = 0;
  private commits = 0;
  private dmabufCommits = 0;
  private presented = 0;
  private copied = 0;
  private sequence = 0;
  private hiddenSpells = 0;
  private closed = false;
  /** Where the window's keyboard and pointer go (the guest's vkbd, through the router); none: display-only. */
  private input: WindowInput | undefined;

  constructor(
    readonly name: string,
    readonly mode: Mode,
    private window: WindowSpec,
    private readonly opts: WaylandOutputOptions = {},
  ) {
    this.modes = [mode];
    this.headless = new HeadlessOutput(name, mode);
    this.fallbacks = opts.fallbacks ?? new FallbackStats(() => {});
  }

  get stats(): WaylandOutputStats {
    const s = this.surface;
    return {
      flipsShown: this.shown + this.headless.stats.flipsShown,
      flipsDropped: this.dropped + this.headless.stats.flipsDropped,
      commits: this.commits,
      dmabufCommits: this.dmabufCommits,
      flipsPresented: this.presented,
      bytesCopied: this.copied,
      windowless: s.kind === 'none' ? s.why : undefined,
      hidden: s.kind === 'window' && s.w.hiddenTicker !== undefined,
      hiddenSpells: this.hiddenSpells,
      frameCycleMs: s.kind === 'window' ? s.w.cycleMs : 0,
      hiddenAfterMs: s.kind === 'window' ? hiddenAfterMs(s.w) : HIDDEN_AFTER_MS,
      pacing: s.kind === 'window' ? s.w.pacing : undefined,
    };
  }

  get title(): string {
    return this.window.title;
  }

  /** The compositor output this one is full screen on (its name), undefined for a window. */
  get fullscreenOn(): string | undefined {
    return this.window.fullscreenOn;
  }

  /** A better title (the guest's name, once read), now and for windows made later. */
  retitle(title: string): void {
    this.window = { ...this.window, title };
    if (this.surface.kind === 'window') this.surface.w.conn.setTitle(this.surface.w.handle.id, title);
  }

  /** Input on the window goes to `input` from now on (undefined: display-only). */
  setInput(input: WindowInput | undefined): void {
    this.input = input;
  }

  /** The user closed the window: it is not made again on reconnect. */
  get closedByUser(): boolean {
    return this.surface.kind === 'none' && this.surface.why === 'closed';
  }

  /** Shows this output as a window on `conn` (at start, and when the compositor is back). */
  attach(conn: WaylandConnection): void {
    if (this.closed || this.surface.kind === 'window' || this.closedByUser) return;
    const { width, height } = this.mode;
    const stride = width * 4;
    const handle = conn.createWindow(
      { ...this.window, width, height, stride, shmFormat: WL_SHM_FORMAT_XRGB8888 },
      (e) => this.onWindowEvent(e),
    );
    const targets = [0, 1].map((i) => ({ bytes: handle.buffers[i]!, width, height, stride })) as unknown as [
      ShmTarget,
      ShmTarget,
    ];
    const clock = conn.presentationClock();
    this.surface = {
      kind: 'window',
      w: {
        conn,
        handle,
        targets,
        dmabufs: this.dmabufsFor(conn, handle.id),
        pacing: clock >= 0 ? 'presentation' : 'frame-callback',
        clock,
        configured: false,
        busy: [false, false],
        painted: [-1, -1],
        frameDue: false,
        unanswered: [],
        shows: { kind: 'dma-buf', fb: undefined },
        stallTimer: undefined,
        hiddenTicker: undefined,
        committedAtMs: 0,
        cycleMs: 0,
        hiddenSinceMs: 0,
        hiddenDropped: 0,
      },
    };
  }

  /** The compositor went away (or the backend closes): the connector runs headless until attach(). */
  detach(why: WindowlessReason): void {
    const s = this.surface;
    if (s.kind !== 'window') return;
    this.surface = { kind: 'none', why };
    this.stopTimers(s.w);
    s.w.dmabufs.close();
    s.w.conn.destroyWindow(s.w.handle.id);
    for (const u of s.w.unanswered.splice(0)) {
      if (!u.done) continue;
      this.dropped++;
      setImmediate(u.done, DROPPED.windowGone);
    }
    // The waiting flip goes to the headless pacing, so the guest hears of it at the next vblank.
    const fb = this.pendingFb;
    const done = this.pendingDone;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    this.pictureDue = false;
    if (fb && done) this.headless.flip(fb, done);
    this.sequence++;
  }

  async setConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.closed) throw new OutputError(`output ${this.name} is gone`, ENODEV);
    await this.headless.setConfig(cfg);
    const s = this.surface;
    // A new viewport may change what a window can show of a dma-buf: plan its framebuffers again.
    if (s.kind === 'window' && !sameViewport(this.cfg, cfg)) {
      s.w.dmabufs.close();
      s.w.dmabufs = this.dmabufsFor(s.w.conn, s.w.handle.id);
    }
    this.cfg = cfg;
    this.generation++;
    if (cfg === null) this.dropPending(DROPPED.disabled);
    // The new picture (or black) now, as a modeset shows it, when the window can take a frame.
    this.pictureDue = true;
    if (s.kind === 'window') this.pump(s.w);
  }

  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    if (this.closed || this.cfg === null) {
      this.dropped++;
      setImmediate(done, this.closed ? DROPPED.gone : DROPPED.disabled);
      return;
    }
    const s = this.surface;
    if (s.kind === 'none') {
      this.headless.flip(fb, done);
      return;
    }
    this.dropPending(DROPPED.replaced);
    this.pendingFb = fb;
    this.pendingDone = done;
    // Decide its path now (an export takes a while): the answer is ready when the frame callback comes.
    s.w.dmabufs.plan(fb, this.cfg, this.mode.width, this.mode.height);
    this.pump(s.w);
  }

  release(fb: FramebufferDesc): void {
    this.headless.release(fb);
    if (this.pendingFb?.id === fb.id) {
      this.dropPending(DROPPED.released);
      this.pendingFb = undefined;
    }
    const s = this.surface;
    if (s.kind !== 'window') return;
    s.w.dmabufs.release(fb);
    if (s.w.shows.kind === 'dma-buf' && s.w.shows.fb?.id === fb.id) s.w.shows.fb = undefined;
  }

  currentFrame(): Frame | undefined {
    const s = this.surface;
    if (s.kind !== 'window' || this.cfg === null) return this.headless.currentFrame();
    const shows = s.w.shows;
    if (shows.kind === 'shm') return shmFrame(s.w.targets[shows.b], this.sequence);
    // The compositor reads the guest's own pages: so does the snapshot.
    if (shows.fb === undefined) return this.headless.currentFrame();
    const { width, height } = this.mode;
    const target = { bytes: new Uint8Array(width * height * 4), width, height, stride: width * 4 };
    paintViewport({ ...this.cfg, fb: shows.fb }, shows.fb, target, false, () => this.scratch());
    return shmFrame(target, this.sequence);
  }

  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    const s = this.surface;
    if (s.kind !== 'window') return this.headless.pathOf(fb);
    const plan = s.w.dmabufs.known(fb);
    if (plan?.kind === 'dma-buf') return { path: 'dma-buf' };
    return { path: 'copied', reason: plan?.kind === 'copy' ? plan.reason : SHM_REASON };
  }

  /** Drops queued work and the window; idempotent. */
  close(): void {
    if (this.closed) return;
    this.detach('disconnected');
    this.dropPending(DROPPED.gone);
    this.closed = true;
    this.headless.close();
  }

  private dmabufsFor(conn: WaylandConnection, window: number): WindowDmabufs {
    return new WindowDmabufs(conn, window, this.fallbacks, this.opts.zeroCopy ?? (() => true), () => {
      const s = this.surface;
      if (s.kind === 'window' && s.w.conn === conn && s.w.handle.id === window) this.pump(s.w);
    });
  }

  private onWindowEvent(e: WindowEvent): void {
    const s = this.surface;
    if (s.kind !== 'window' || e.window !== s.w.handle.id) return;
    const w = s.w;
    if (this.input?.handle(e)) return;
    switch (e.type) {
      case 'configure':
        if (!w.configured) {
          w.configured = true;
          // The first picture: what the guest configured, before any flip.
          this.pictureDue = true;
          this.pump(w);
        }
        break;
      case 'frame':
        if (w.pacing === 'frame-callback') this.answer(w, { shown: true, timestampNs: process.hrtime.bigint() });
        // The compositor draws the window (again) and wants the next frame.
        if (w.hiddenTicker) {
          this.opts.onHiddenChange?.(this, {
            hidden: false,
            hiddenMs: Math.round(performance.now() - w.hiddenSinceMs),
            dropped: w.hiddenDropped,
          });
        } else if (w.frameDue) {
          // A hidden spell's wait is not the compositor's cycle.
          const took = performance.now() - w.committedAtMs;
          w.cycleMs = w.cycleMs === 0 ? took : w.cycleMs + (took - w.cycleMs) / CYCLE_WEIGHT;
        }
        w.frameDue = false;
        this.stopTimers(w);
        this.pump(w);
        break;
      case 'presented':
        if (w.unanswered[0]?.done) this.presented++;
        this.answer(w, { shown: true, timestampNs: w.clock === CLOCK_MONOTONIC ? e.timeNs : process.hrtime.bigint() });
        break;
      case 'discarded':
        this.answer(w, DROPPED.discarded);
        break;
      case 'release':
        if (e.value <= 1) {
          w.busy[e.value === 0 ? 0 : 1] = false;
          this.pump(w);
        }
        break;
      case 'dmabuf-created':
      case 'dmabuf-failed':
        w.dmabufs.answer(e.value, e.type === 'dmabuf-created');
        break;
      case 'close':
        this.detach('closed');
        this.opts.onClosedByUser?.(this);
        break;
    }
  }

  /** Tells the guest about the oldest commit's flip. */
  private answer(w: Window, r: FlipResult): void {
    const done = w.unanswered.shift()?.done;
    if (!done) return;
    if (r.shown) this.shown++;
    else this.dropped++;
    done(r);
  }

  private stopTimers(w: Window): void {
    if (w.stallTimer) clearTimeout(w.stallTimer);
    if (w.hiddenTicker) clearInterval(w.hiddenTicker);
    w.stallTimer = undefined;
    w.hiddenTicker = undefined;
  }

  /** No answer for hiddenAfterMs(): the window is hidden; the guest is paced at HIDDEN_FLIP_HZ until it shows. */
  private onStall(w: Window): void {
    w.stallTimer = undefined;
    if (this.surface.kind !== 'window' || this.surface.w !== w || !w.frameDue) return;
    this.hiddenSpells++;
    w.hiddenSinceMs = performance.now();
    w.hiddenDropped = 0;
    this.opts.onHiddenChange?.(this, {
      hidden: true,
      unansweredMs: Math.round(w.hiddenSinceMs - w.committedAtMs),
      cycleMs: Math.round(w.cycleMs),
    });
    for (const u of w.unanswered) {
      const done = u.done;
      u.done = undefined;
      if (!done) continue;
      this.dropped++;
      w.hiddenDropped++;
      done(DROPPED.hidden);
    }
    w.hiddenTicker = setInterval(() => {
      // The newest flip stays, unanswered no longer, to be shown when the window is drawn again.
      const done = this.pendingDone;
      if (!done) return;
      this.pendingDone = undefined;
      this.dropped++;
      w.hiddenDropped++;
      done(DROPPED.hidden);
    }, 1000 / HIDDEN_FLIP_HZ);
    // Pacing alone does not keep a stopping process alive.
    w.hiddenTicker.unref();
  }

  /** Commits what waits when the window can take it: configured, nothing in flight, a plan known. */
  private pump(w: Window): void {
    if (!w.configured || w.frameDue || this.surface.kind !== 'window' || this.surface.w !== w) return;
    const fb = this.pendingFb ?? (this.pictureDue ? this.cfg?.fb : undefined);
    if (!fb && !this.pictureDue) return;
    let plan: WindowPlan = { kind: 'copy', reason: SHM_REASON };
    if (fb && this.cfg) {
      plan = w.dmabufs.plan(fb, this.cfg, this.mode.width, this.mode.height);
      if (plan.kind === 'pending') return; // its decision pumps again
    }
    if (plan.kind !== 'dma-buf' && w.busy[0] && w.busy[1]) return; // the next release pumps again
    const done = this.pendingFb ? this.pendingDone : undefined;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    this.pictureDue = false;
    if (plan.kind === 'dma-buf') {
      w.shows = { kind: 'dma-buf', fb };
      this.dmabufCommits++;
      this.commitBuffer(w, plan.buffer, done);
      return;
    }
    const b: 0 | 1 = w.busy[0] ? 1 : w.busy[1] ? 0 : w.shows.kind === 'shm' && w.shows.b === 0 ? 1 : 0;
    const target = w.targets[b];
    if (fb && this.cfg) {
      this.copied += paintViewport(this.cfg, fb, target, w.painted[b] !== this.generation, () => this.scratch());
    } else {
      target.bytes.fill(0);
      this.copied += target.bytes.length;
    }
    w.painted[b] = this.generation;
    w.busy[b] = true;
    w.shows = { kind: 'shm', b };
    this.commitBuffer(w, b, done);
  }

  private commitBuffer(w: Window, buffer: number, done: ((r: FlipResult) => void) | undefined): void {
    w.frameDue = true;
    w.unanswered.push({ done });
    if (w.unanswered.length > MAX_UNANSWERED) {
      const lost = w.unanswered.shift()!.done;
      if (lost) {
        this.dropped++;
        lost(DROPPED.noFeedback);
      }
    }
    this.commits++;
    this.sequence++;
    w.conn.commit(w.handle.id, buffer);
    w.committedAtMs = performance.now();
    // A hidden window stays hidden until the compositor answers; otherwise watch for it going quiet.
    if (!w.hiddenTicker) {
      w.stallTimer = setTimeout(() => this.onStall(w), hiddenAfterMs(w));
      w.stallTimer.unref();
    }
  }

  private scratch(): Uint8Array {
    this.scratchBytes ??= new Uint8Array(this.mode.width * this.mode.height * 4);
    return this.scratchBytes;
  }

  private dropPending(why: FlipResult): void {
    const done = this.pendingDone;
    if (!done) return;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    this.dropped++;
    setImmediate(done, why);
  }
}

/** A new frame cycle moves the average by 1/CYCLE_WEIGHT: a few late frames do not make it. */
const CYCLE_WEIGHT = 8;

/** How long a commit may go unanswered before the window counts as hidden. */
function hiddenAfterMs(w: Window): number {
  return Math.round(Math.min(HIDDEN_AFTER_MAX_MS, Math.max(HIDDEN_AFTER_MS, HIDDEN_CYCLES * w.cycleMs)));
}

function sameViewport(a: OutputConfig | null, b: OutputConfig | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.x === b.x &&
    a.y === b.y &&
    a.width === b.width &&
    a.height === b.height &&
    (a.srcX ?? 0) === (b.srcX ?? 0) &&
    (a.srcY ?? 0) === (b.srcY ?? 0)
  );
}
