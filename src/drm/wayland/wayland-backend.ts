// The Wayland OutputBackend: one connection to the dom0 compositor ($WAYLAND_DISPLAY or a named
// socket) and an output per guest connector shown on it, made when the connector is claimed. When
// the compositor goes away every output runs headless (the guests keep running) and the backend
// reconnects every second; the windows come back, except those the user closed.
import type { Logger } from '../../util/log.js';
import type { DomId } from '../../util/ids.js';
import { XEN_PAGE_SIZE, type GrantedBuffer, type XenPlatform } from '../../xen/platform.js';
import { emitter } from '../../util/events.js';
import { Errno } from '../../util/errno.js';
import type {
  Mode,
  Output,
  OutputBackend,
  OutputBackendEvents,
  OutputBackendResources,
  OutputSpec,
} from '../output.js';
import { DEFAULT_REFRESH_MILLIHZ } from '../headless/headless-backend.js';
import { FallbackStats } from '../kms/fallbacks.js';
import { WaylandModuleError, type WaylandOutputInfo } from '../../native/wayland.js';
import { WaylandConnection } from './wayland-connection.js';
import { HIDDEN_FLIP_HZ, WaylandOutput, type WindowSpec } from './wayland-output.js';
import { WindowInput, type WindowInputRouter } from './window-input.js';

const { ENODEV } = Errno;

export interface WaylandBackendOptions {
  /** Socket name or path; undefined: $WAYLAND_DISPLAY (libwayland's default, wayland-0). */
  readonly display?: string;
  readonly log: Logger;
  /** Between reconnection attempts; default 1000 ms. */
  readonly reconnectMs?: number;
  /** The guest's name (XenStore /local/domain/<domid>/name) for window titles, when it can be read. */
  readonly guestName?: (domid: DomId) => Promise<string | undefined>;
  /** The operator's zero-copy switch (zero-copy = off copies every framebuffer into wl_shm). */
  readonly zeroCopy?: () => boolean;
}

export interface WaylandOutputSpec extends OutputSpec {
  /** Full screen on this wl_output (its name), else a window. */
  readonly fullscreenOn?: string;
}

/** xdg_toplevel app_id: lets the compositor's rules (IVI layout, window rules) pick vdispld's windows. */
export const WAYLAND_APP_ID = 'vdispld';

/** A guest's name as a title may show it: printable, short (the name is read from XenStore, so copied and bounded). */
export function titleName(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const clean = raw
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, 64);
  return clean.length > 0 ? clean : undefined;
}

/** One line saying why there is no Wayland output and what it needs. */
export function waylandStartupProblem(
  err: unknown,
  display: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const msg = (err as Error).message;
  // A missing or unloadable module is a package to install, whatever the socket.
  if (err instanceof WaylandModuleError) return msg;
  const where = display ?? env['WAYLAND_DISPLAY'] ?? 'wayland-0';
  return `cannot reach the Wayland compositor at ${JSON.stringify(where)} (XDG_RUNTIME_DIR=${env['XDG_RUNTIME_DIR'] ?? 'unset'}): ${msg}`;
}

export class WaylandBackend implements OutputBackend {
  readonly kind = 'wayland' as const;
  /**
   * output-added when a window is made for a connector, output-removed when it is removed. The
   * compositor going away removes nothing: the outputs go on serving their guests headless.
   */
  readonly events = emitter<OutputBackendEvents>();
  /** Why guest framebuffers go to windows as wl_shm copies rather than as dma-bufs, by reason (logged once each). */
  readonly fallbacks: FallbackStats;
  private readonly byName = new Map<string, WaylandOutput>();
  private conn: WaylandConnection | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private router: WindowInputRouter | undefined;
  /** The guest connector each output shows, for input. */
  private readonly guests = new Map<WaylandOutput, { domid: number; uniqueId: string }>();

  private constructor(private readonly opts: WaylandBackendOptions) {
    this.fallbacks = new FallbackStats((reason) =>
      opts.log.info({ reason }, `a guest framebuffer is copied into wl_shm instead of shown as a dma-buf: ${reason}`),
    );
  }

  /** Connects now: a daemon asked for Wayland output fails at start when there is no compositor. */
  static open(opts: WaylandBackendOptions): WaylandBackend {
    const b = new WaylandBackend(opts);
    b.conn = b.connect();
    return b;
  }

  get connected(): boolean {
    return this.conn?.alive ?? false;
  }

  /**
   * Keyboard and pointer input on the windows go to the guests' vkbds through `router` (the daemon
   * hands it over once it exists); undefined makes the windows display-only again.
   */
  setInput(router: WindowInputRouter | undefined): void {
    this.router = router;
    for (const o of this.byName.values()) this.connectInput(o);
  }

  /**
   * The compositor's outputs (for full-screen mappings and status), named as `wayland:NAME` names
   * them: wl_output v4's name, else xdg-output's; empty while there is no connection.
   */
  compositorOutputs(): WaylandOutputInfo[] {
    return this.conn?.alive ? this.conn.outputs() : [];
  }

  outputs(): readonly Output[] {
    return [...this.byName.values()];
  }

  output(name: string): WaylandOutput | undefined {
    return this.byName.get(name);
  }

  createOutput(spec: WaylandOutputSpec): WaylandOutput {
    if (this.closed) throw new Error('wayland backend closed');
    if (this.byName.has(spec.name)) throw new Error(`wayland output ${spec.name} exists already`);
    const fullscreen =
      spec.fullscreenOn !== undefined ? this.conn?.outputs().find((o) => o.name === spec.fullscreenOn) : undefined;
    const mode: Mode = {
      width: spec.width,
      height: spec.height,
      refreshMilliHz: fullscreen && fullscreen.refreshMilliHz > 0 ? fullscreen.refreshMilliHz : DEFAULT_REFRESH_MILLIHZ,
      preferred: true,
    };
    const label = spec.connector?.label ?? spec.name;
    const window: WindowSpec = {
      title: spec.connector ? `dom${spec.connector.domid} ${label}` : label,
      appId: WAYLAND_APP_ID,
      fullscreenOn: spec.fullscreenOn,
    };
    const out = new WaylandOutput(spec.name, mode, window, {
      onClosedByUser: (o) =>
        this.opts.log.info(
          { output: o.name },
          `window ${JSON.stringify(o.title)} closed by the user: the connector runs headless`,
        ),
      onHiddenChange: (o, c) =>
        c.hidden
          ? this.opts.log.info(
              { output: o.name, unansweredMs: c.unansweredMs, frameCycleMs: c.cycleMs },
              `window ${JSON.stringify(o.title)} not drawn by the compositor (a frame unanswered for ${c.unansweredMs} ms): the guest's flips are answered at ${HIDDEN_FLIP_HZ} Hz as dropped`,
            )
          : this.opts.log.info(
              { output: o.name, hiddenMs: c.hiddenMs, dropped: c.dropped },
              `window ${JSON.stringify(o.title)} drawn again after ${c.hiddenMs} ms (${c.dropped} flips dropped)`,
            ),
      fallbacks: this.fallbacks,
      ...(this.opts.zeroCopy ? { zeroCopy: this.opts.zeroCopy } : {}),
    });
    this.byName.set(spec.name, out);
    if (spec.connector?.uniqueId !== undefined)
      this.guests.set(out, { domid: spec.connector.domid, uniqueId: spec.connector.uniqueId });
    this.connectInput(out);
    if (this.conn?.alive) this.attach(out, this.conn);
    const guest = spec.connector?.domid;
    if (guest !== undefined && this.opts.guestName) {
      this.opts
        .guestName(guest)
        .then((raw) => {
          const name = titleName(raw);
          if (name !== undefined && this.byName.get(spec.name) === out) out.retitle(`${name} ${label}`);
        })
        .catch(() => {});
    }
    this.events.emit('output-added', out);
    return out;
  }

  /** Closes and forgets an output made by createOutput; unknown names are ignored. */
  removeOutput(name: string): void {
    const out = this.byName.get(name);
    if (!out) return;
    out.close();
    this.byName.delete(name);
    this.guests.delete(out);
    this.events.emit('output-removed', out);
  }

  allocateGuestBuffer(platform: XenPlatform, domid: DomId, size: number): Promise<GrantedBuffer> {
    // Pages dom0 allocates are copied into wl_shm (no dma-buf of them to hand over); the guest's memory needs nothing special.
    return platform.allocGranted(domid, Math.ceil(size / XEN_PAGE_SIZE));
  }

  /** Bytes copied into wl_shm, by output (the copy path's cost). */
  copiedBytes(): Record<string, number> {
    return Object.fromEntries([...this.byName.values()].map((o) => [o.name, o.stats.bytesCopied]));
  }

  resources(): OutputBackendResources {
    return { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const o of this.byName.values()) o.close();
    this.byName.clear();
    this.conn?.close();
    this.conn = undefined;
    return Promise.resolve();
  }

  private connect(): WaylandConnection {
    return new WaylandConnection(this.opts.display ?? '', (errno) => this.onLost(errno));
  }

  private connectInput(out: WaylandOutput): void {
    const g = this.guests.get(out);
    out.setInput(
      this.router && g ? new WindowInput(this.router, g.domid, g.uniqueId, out.mode.width, out.mode.height) : undefined,
    );
  }

  private attach(out: WaylandOutput, conn: WaylandConnection): void {
    try {
      out.attach(conn);
    } catch (err) {
      const errno = (err as { errno?: unknown }).errno;
      const on = out.fullscreenOn;
      if (errno === ENODEV && on !== undefined) {
        // A full screen on an output the compositor does not have: the connector runs headless,
        // and the line says which names there are (what the mapping should have said).
        const outputs = conn.outputs().map((o) => o.name);
        const names = outputs.map((n) => JSON.stringify(n)).join(', ') || 'none';
        this.opts.log.warn(
          { output: out.name, fullscreenOn: on, errno, outputs },
          `no window for ${out.name}: the compositor has no output ${JSON.stringify(on)} (its outputs: ${names}); the connector runs headless`,
        );
        return;
      }
      this.opts.log.warn(
        { output: out.name, err },
        `no window for ${out.name}: ${(err as Error).message}; the connector runs headless`,
      );
    }
  }

  private onLost(errno: number): void {
    if (this.closed) return;
    this.opts.log.warn({ errno }, 'the Wayland compositor went away: guest outputs run headless until it is back');
    for (const o of this.byName.values()) o.detach('disconnected');
    this.conn?.close();
    this.conn = undefined;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      let conn: WaylandConnection;
      try {
        conn = this.connect();
      } catch {
        this.scheduleReconnect();
        return;
      }
      this.conn = conn;
      this.opts.log.info({ outputs: this.byName.size }, 'the Wayland compositor is back: windows shown again');
      for (const o of this.byName.values()) this.attach(o, conn);
    }, this.opts.reconnectMs ?? 1000);
    // Reconnecting alone does not keep a stopping process alive.
    this.reconnectTimer.unref();
  }
}
