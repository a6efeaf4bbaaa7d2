// A guest connector as a window of the dom0 compositor. The compositor's frame callback is this
// output's vblank: a flip's pixels are copied into a free half of the window's wl_shm pool and
// committed, and the guest hears its flip was shown when the compositor asks for the next frame —
// never faster than it shows. A newer flip waiting behind a frame in flight replaces the waiting
// one, as on a display engine.
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
import type { WaylandConnection, WindowEvent, WindowHandle } from './wayland-connection.js';
import { WL_SHM_FORMAT_XRGB8888, paintViewport, shmFrame, type ShmTarget } from './shm-paint.js';

const ENODEV = 19;

const DROPPED = {
  replaced: Object.freeze({ shown: false, reason: 'replaced by a newer flip before the frame callback' }),
  disabled: Object.freeze({ shown: false, reason: 'output disabled' }),
  released: Object.freeze({ shown: false, reason: 'framebuffer released' }),
  gone: Object.freeze({ shown: false, reason: 'output gone' }),
  windowGone: Object.freeze({ shown: false, reason: 'window closed or compositor gone before the frame was shown' }),
} satisfies Record<string, FlipResult>;

/** Why an output has no window: the user closed it (it stays closed), or there is no compositor. */
export type WindowlessReason = 'closed' | 'disconnected';

interface Window {
  readonly conn: WaylandConnection;
  readonly handle: WindowHandle;
  readonly targets: readonly [ShmTarget, ShmTarget];
  configured: boolean;
  /** The compositor holds the buffer (committed, not yet released). */
  readonly busy: [boolean, boolean];
  /** The configuration generation each buffer was painted under (a new one clears it first). */
  readonly painted: [number, number];
  /** A commit awaits its frame callback; `done` is the flip it shows (none for a modeset's picture). */
  inFlight: { done: ((r: FlipResult) => void) | undefined } | undefined;
  last: 0 | 1 | undefined;
}

type Surface =
  { readonly kind: 'window'; readonly w: Window } | { readonly kind: 'none'; readonly why: WindowlessReason };

export interface WaylandOutputStats {
  readonly flipsShown: number;
  readonly flipsDropped: number;
  readonly commits: number;
  readonly bytesCopied: number;
  readonly windowless: WindowlessReason | undefined;
}

export interface WindowSpec {
  readonly title: string;
  readonly appId: string;
  /** Full screen on this wl_output (its name), else a window. */
  readonly fullscreenOn?: string;
}

export class WaylandOutput implements Output {
  readonly modes: readonly Mode[];
  /** Paces and remembers while there is no window; validates configurations always. */
  private readonly headless: HeadlessOutput;
  private surface: Surface = { kind: 'none', why: 'disconnected' };
  private cfg: OutputConfig | null = null;
  private generation = 0;
  private pendingFb: FramebufferDesc | undefined;
  private pendingDone: ((r: FlipResult) => void) | undefined;
  private scratchBytes: Uint8Array | undefined;
  private shown = 0;
  private dropped = 0;
  private commits = 0;
  private copied = 0;
  private sequence = 0;
  private closed = false;

  constructor(
    readonly name: string,
    readonly mode: Mode,
    private window: WindowSpec,
    /** Told when the user closes the window (a log line, status). */
    private readonly onClosedByUser: (o: WaylandOutput) => void = () => {},
  ) {
    this.modes = [mode];
    this.headless = new HeadlessOutput(name, mode);
  }

  get stats(): WaylandOutputStats {
    return {
      flipsShown: this.shown + this.headless.stats.flipsShown,
      flipsDropped: this.dropped + this.headless.stats.flipsDropped,
      commits: this.commits,
      bytesCopied: this.copied,
      windowless: this.surface.kind === 'none' ? this.surface.why : undefined,
    };
  }

  get title(): string {
    return this.window.title;
  }

  /** A better title (the guest's name, once read), now and for windows made later. */
  retitle(title: string): void {
    this.window = { ...this.window, title };
    if (this.surface.kind === 'window') this.surface.w.conn.setTitle(this.surface.w.handle.id, title);
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
    this.surface = {
      kind: 'window',
      w: {
        conn,
        handle,
        targets,
        configured: false,
        busy: [false, false],
        painted: [-1, -1],
        inFlight: undefined,
        last: undefined,
      },
    };
  }

  /** The compositor went away (or the backend closes): the connector runs headless until attach(). */
  detach(why: WindowlessReason): void {
    const s = this.surface;
    if (s.kind !== 'window') return;
    this.surface = { kind: 'none', why };
    s.w.conn.destroyWindow(s.w.handle.id);
    const inFlight = s.w.inFlight?.done;
    if (inFlight) {
      this.dropped++;
      setImmediate(inFlight, DROPPED.windowGone);
    }
    // The waiting flip goes to the headless pacing, so the guest hears of it at the next vblank.
    const fb = this.pendingFb;
    const done = this.pendingDone;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    if (fb && done) this.headless.flip(fb, done);
    this.sequence++;
  }

  async setConfig(cfg: OutputConfig | null): Promise<void> {
    if (this.closed) throw new OutputError(`output ${this.name} is gone`, ENODEV);
    await this.headless.setConfig(cfg);
    this.cfg = cfg;
    this.generation++;
    if (cfg === null) this.dropPending(DROPPED.disabled);
    // The new picture (or black) now, as a modeset shows it, when the window can take a frame.
    const s = this.surface;
    if (s.kind === 'window' && s.w.configured && !s.w.inFlight) this.submit(s.w, cfg?.fb, undefined);
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
    this.pump(s.w);
  }

  release(fb: FramebufferDesc): void {
    this.headless.release(fb);
    if (this.pendingFb?.id === fb.id) this.dropPending(DROPPED.released);
  }

  currentFrame(): Frame | undefined {
    const s = this.surface;
    if (s.kind === 'window' && s.w.last !== undefined && this.cfg !== null)
      return shmFrame(s.w.targets[s.w.last], this.sequence);
    return this.headless.currentFrame();
  }

  pathOf(_fb: FramebufferDesc): { path: ScanoutPath; reason?: string } {
    return { path: 'copied', reason: 'wl_shm: the compositor reads a copy in shared memory' };
  }

  /** Drops queued work and the window; idempotent. */
  close(): void {
    if (this.closed) return;
    this.detach('disconnected');
    this.dropPending(DROPPED.gone);
    this.closed = true;
    this.headless.close();
  }

  private onWindowEvent(e: WindowEvent): void {
    const s = this.surface;
    if (s.kind !== 'window' || e.window !== s.w.handle.id) return;
    const w = s.w;
    switch (e.type) {
      case 'configure':
        if (!w.configured) {
          w.configured = true;
          // The first picture: what the guest configured, before any flip.
          if (!w.inFlight) this.submit(w, this.cfg?.fb, undefined);
        }
        break;
      case 'frame': {
        const done = w.inFlight?.done;
        w.inFlight = undefined;
        if (done) {
          this.shown++;
          done({ shown: true, timestampNs: process.hrtime.bigint() });
        }
        this.pump(w);
        break;
      }
      case 'release':
        w.busy[e.value === 0 ? 0 : 1] = false;
        this.pump(w);
        break;
      case 'close':
        this.detach('closed');
        this.onClosedByUser(this);
        break;
    }
  }

  /** Submits the waiting flip when the window can take it: configured, no frame in flight, a buffer free. */
  private pump(w: Window): void {
    if (!w.configured || w.inFlight || !this.pendingFb || this.surface.kind !== 'window') return;
    if (w.busy[0] && w.busy[1]) return;
    const fb = this.pendingFb;
    const done = this.pendingDone;
    this.pendingFb = undefined;
    this.pendingDone = undefined;
    this.submit(w, fb, done);
  }

  /** Paints `fb` (nothing: black) into a free buffer and commits it with a frame callback. */
  private submit(w: Window, fb: FramebufferDesc | undefined, done: ((r: FlipResult) => void) | undefined): void {
    const b: 0 | 1 = w.busy[0] ? 1 : w.busy[1] ? 0 : w.last === 0 ? 1 : 0;
    if (w.busy[b]) {
      // Both held (only a modeset's picture gets here): the next release or frame brings it.
      if (done) done(DROPPED.replaced);
      return;
    }
    const target = w.targets[b];
    if (fb && this.cfg) {
      this.copied += paintViewport(this.cfg, fb, target, w.painted[b] !== this.generation, () => this.scratch());
    } else {
      target.bytes.fill(0);
      this.copied += target.bytes.length;
    }
    w.painted[b] = this.generation;
    w.busy[b] = true;
    w.last = b;
    w.inFlight = { done };
    this.commits++;
    this.sequence++;
    w.conn.commit(w.handle.id, b);
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
