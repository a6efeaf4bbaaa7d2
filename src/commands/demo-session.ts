// The running `vdispld demo` (see demo.ts for what it is): the simulated host, the daemon on it,
// the guests, the live lines, the snapshots and the final report. Loaded only when the demo runs,
// so the simulator and the PNG encoder are no part of any other command's start-up.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Daemon } from '../daemon.js';
import { snapshotFileName, writePng } from '../drm/headless/snapshot.js';
import { decodeFrameRgba } from '../sim/frontend/pattern.js';
import type { FrontendReport } from '../sim/frontend/protocol.js';
import { SimHost, type SimGuest } from '../sim/host.js';
import type { RunOperations } from '../ops/run-operations.js';
import { packageVersion } from '../ops/version.js';
import type { InputRouter } from '../input/router.js';
import type { Logger } from '../util/log.js';
import { COMPOSE_OUTPUT, composePlan, guestPlan, percentile, type GuestPlan } from './demo-plan.js';

export interface DemoOpts {
  guests: number;
  duration?: number;
  snapshots?: string;
  json?: boolean;
  logLevel: string;
  /** headless (default) or wayland: the guests as windows of the user's compositor. */
  output: 'headless' | 'wayland';
  waylandDisplay?: string;
  /** All guests composed on one headless output (demo-plan.ts composePlan). */
  compose?: boolean;
}

/** Flip latencies and counts one connector's guest reported. */
class ConnectorTally {
  submitted = 0;
  events = 0;
  errors = 0;
  timeouts = 0;
  private readonly latencies: number[] = [];
  private windowFrames = 0;
  private windowLatency: number[] = [];
  fps = 0;
  recentP50 = NaN;
  /** When the first flip event came: frames per second are counted from there. */
  firstEventNs: bigint | undefined;

  frame(r: Extract<FrontendReport, { kind: 'frame' }>): void {
    this.submitted++;
    if (r.flip === 'event') {
      this.firstEventNs ??= process.hrtime.bigint();
      this.events++;
      if (this.latencies.length < 1_000_000) this.latencies.push(r.ms);
      this.windowLatency.push(r.ms);
      this.windowFrames++;
    } else if (r.flip === 'timeout') this.timeouts++;
    if (r.status !== 0 || r.flip === 'error') this.errors++;
  }

  /** Closes a one-second window for the live line. */
  tick(seconds: number): void {
    this.fps = this.windowFrames / seconds;
    this.recentP50 = percentile(this.windowLatency, 50);
    this.windowFrames = 0;
    this.windowLatency = [];
  }

  latency(p: number): number {
    return percentile(this.latencies, p);
  }
}

const round = (n: number, d = 2): number | null => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);

interface ConnectorKey {
  readonly domid: number;
  readonly devid: number;
  readonly conn: number;
}

class Demo {
  private readonly tallies = new Map<string, ConnectorTally>();
  /** Guest-wide troubles not tied to a connector (timeouts of non-flip requests, fatal errors). */
  private readonly guestTroubles = new Map<number, { errors: number; timeouts: number }>();
  private counting = true;
  /** Input events each guest's vkbd received, and where its pointer is. */
  private readonly inputs = new Map<number, { count: number; x: number; y: number }>();
  private lastTick = process.hrtime.bigint();

  readonly guests: SimGuest[] = [];
  private readonly plans = new Map<number, GuestPlan>();

  constructor(
    readonly host: SimHost,
    readonly daemon: Daemon,
  ) {}

  /** Starts counting a guest's reports (right after its creation: it draws only once connected). */
  addGuest(g: SimGuest, plan: GuestPlan): void {
    this.guests.push(g);
    this.plans.set(g.domid, plan);
    this.guestTroubles.set(g.domid, { errors: 0, timeouts: 0 });
    for (const r of g.reports) this.onReport(g, r);
    g.onReport((r) => this.onReport(g, r));
  }

  private tally(k: ConnectorKey): ConnectorTally {
    const key = `${k.domid}/${k.devid}/${k.conn}`;
    let t = this.tallies.get(key);
    if (!t) this.tallies.set(key, (t = new ConnectorTally()));
    return t;
  }

  private onReport(g: SimGuest, r: FrontendReport): void {
    if (!this.counting) return;
    const gt = this.guestTroubles.get(g.domid)!;
    switch (r.kind) {
      case 'frame':
        this.tally({ domid: g.domid, devid: r.devid, conn: r.conn }).frame(r);
        break;
      case 'timeout':
        // Flip timeouts are counted with their frame; other requests' here.
        if (r.op !== 0x15) gt.timeouts++;
        break;
      case 'request':
        if (r.status !== 0 && r.op !== 0x15) gt.errors++;
        break;
      case 'input':
        this.inputs.set(g.domid, { count: (this.inputs.get(g.domid)?.count ?? 0) + r.events.length, x: r.x, y: r.y });
        break;
      case 'fatal':
      case 'error':
      case 'ring-violation':
      case 'event-dropped':
      case 'ignored-response':
        gt.errors++;
        break;
      default:
        break;
    }
  }

  /** Stops counting: what follows (tear-down) is not what the guests saw of a running backend. */
  freeze(): void {
    this.counting = false;
  }

  tick(): void {
    const now = process.hrtime.bigint();
    const s = Number(now - this.lastTick) / 1e9;
    this.lastTick = now;
    for (const t of this.tallies.values()) t.tick(s);
  }

  /** One entry per connector the backend knows, joined with what its guest reported. */
  connectors() {
    const out = [];
    for (const d of this.daemon.backend.status()) {
      const plan = this.plans.get(d.domid);
      for (const c of d.connectors) {
        const t = this.tally({ domid: d.domid, devid: d.devId, conn: c.index });
        out.push({
          device: d,
          conn: c,
          tally: t,
          format: plan?.formats[Math.min(c.index, plan.formats.length - 1)] ?? 'XRGB8888',
          beAlloc: plan?.beAlloc ?? false,
        });
      }
    }
    return out;
  }

  liveLines(): string[] {
    const rows = this.connectors().map(({ device, conn, tally }) => {
      const state = device.phase === 'connected' ? (conn.scanout ? 'showing' : 'connected') : device.phase;
      const lat = Number.isFinite(tally.recentP50) ? `${tally.recentP50.toFixed(1)} ms` : '-';
      const input = this.inputs.get(device.domid);
      const pointer = conn.index === 0 && input ? `  input ${input.count} at ${input.x},${input.y}` : '';
      return `dom${device.domid} ${conn.uniqueId.padEnd(5)} ${`${conn.resolution.width}x${conn.resolution.height}`.padEnd(8)} ${state.padEnd(9)} ${tally.fps.toFixed(1).padStart(5)} fps  flip ${lat.padStart(8)}  frames ${String(tally.events).padStart(6)}  errors ${tally.errors}  timeouts ${tally.timeouts}${pointer}`;
    });
    return rows.length ? rows : ['(waiting for guests to connect)'];
  }

  /** Writes one PNG per connector that shows something; returns file → decoded frame number. */
  snapshots(dir: string): Map<string, { file: string; frame: number | null }> {
    mkdirSync(dir, { recursive: true });
    const written = new Map<string, { file: string; frame: number | null }>();
    for (const { conn } of this.connectors()) {
      const out = this.daemon.headless.output(conn.output) ?? this.daemon.primary.output(conn.output);
      const frame = out?.currentFrame();
      if (!frame) continue;
      const file = join(dir, snapshotFileName(conn.output));
      writePng(file, frame);
      written.set(conn.output, { file, frame: decodeFrameRgba(frame.rgba, frame.width, frame.height)?.frame ?? null });
    }
    return written;
  }

  report(durationS: number, snaps: Map<string, { file: string; frame: number | null }> | undefined) {
    const now = process.hrtime.bigint();
    const fps = (t: ConnectorTally): number | null =>
      t.firstEventNs === undefined || t.events < 2
        ? null
        : round((t.events - 1) / (Number(now - t.firstEventNs) / 1e9), 1);
    const connectors = this.connectors().map(({ device, conn, tally, format, beAlloc }) => ({
      domid: device.domid,
      device: device.devId,
      connector: conn.index,
      uniqueId: conn.uniqueId,
      output: conn.output,
      resolution: `${conn.resolution.width}x${conn.resolution.height}`,
      format,
      beAlloc,
      state: device.phase,
      framesSubmitted: tally.submitted,
      flipEvents: tally.events,
      errors: tally.errors,
      timeouts: tally.timeouts,
      fps: fps(tally),
      flipLatencyMs: { p50: round(tally.latency(50)), p99: round(tally.latency(99)) },
      backend: {
        flipsShown: conn.stats.flipsShown,
        flipsDropped: conn.stats.flipsDropped,
        eventsWritten: conn.eventsWritten,
      },
      ...(snaps
        ? { snapshot: snaps.get(conn.output)?.file ?? null, snapshotFrame: snaps.get(conn.output)?.frame ?? null }
        : {}),
    }));
    const guests = this.guests.map((g) => ({
      domid: g.domid,
      ...this.guestTroubles.get(g.domid)!,
      inputEvents: this.inputs.get(g.domid)?.count ?? 0,
    }));
    const troubles =
      connectors.reduce((n, c) => n + c.errors + c.timeouts, 0) + guests.reduce((n, g) => n + g.errors + g.timeouts, 0);
    const allConnected = this.allShowing();
    return { ok: troubles === 0 && allConnected, durationS: round(durationS, 1), guests, connectors };
  }

  /** Every guest connector planned is connected and has had a flip answered. */
  allShowing(): boolean {
    const cs = this.connectors();
    return cs.length === this.expectedConnectors() && cs.every((c) => c.tally.events > 0);
  }

  expectedConnectors(): number {
    let n = 0;
    for (const p of this.plans.values()) n += p.vdispl.split(';').length;
    return n;
  }
}

/** Moves a pointer in a circle on the focused guest, 30 times a second; focus moves on every 3 s. */
class DemoPointer {
  private readonly timer: NodeJS.Timeout;
  private step = 0;

  constructor(private readonly router: InputRouter) {
    this.timer = setInterval(() => this.tick(), 33);
    this.timer.unref();
  }

  private tick(): void {
    if (this.step % 90 === 0 || !this.router.focus) this.router.cycle();
    const a = (this.step++ / 45) * Math.PI;
    // A circle in the middle of a 1000 x 1000 view of the screen, kept off the frame code at the top.
    this.router.deliver([{ kind: 'abs', x: 500 + 250 * Math.cos(a), y: 550 + 250 * Math.sin(a), w: 1000, h: 1000 }]);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** How long --duration waits for every guest to show before its time runs anyway. */
const SHOW_WAIT_MS = 60_000;

export async function runDemo(o: DemoOpts, log: Logger, ops?: RunOperations): Promise<number> {
  const json = o.json === true;
  const say = (s: string): void => {
    if (!json) process.stdout.write(`${s}\n`);
  };
  say('vdispld demo: starting a simulated Xen host (hypervisor, xenstored) ...');
  const host = await SimHost.start({ log: (l) => log.debug({ part: 'sim' }, l) });
  let daemon: Daemon | undefined;
  const cleanup = async (): Promise<void> => {
    await daemon?.stop().catch((err: unknown) => log.error({ err }, 'stopping the daemon'));
    await ops?.stop();
    await host.close();
  };
  let demo: Demo;
  try {
    const base = {
      xenstore: host.xenstoredPath,
      platform: 'sim' as const,
      simDir: host.dir,
      output: o.output,
      ...(o.compose
        ? (() => {
            const p = composePlan(o.guests);
            return { headlessOutputs: [{ name: COMPOSE_OUTPUT, width: p.width, height: p.height }] };
          })()
        : {}),
      waylandDisplay: o.waylandDisplay,
    };
    daemon = await Daemon.start(
      ops ? await ops.beforeStart(base, { output: true, card: true }, packageVersion()) : base,
      log,
    );
    ops?.afterStart(daemon);
    say(`vdispld demo: daemon up (${daemon.platform.capabilities.summary})`);
    if (ops) for (const l of ops.listeners()) say(`vdispld demo: ${l}`);
    demo = new Demo(host, daemon);
    for (let k = 1; k <= o.guests; k++) {
      const plan = guestPlan(k);
      const g = await host.createDomain({
        vdispl: [plan.vdispl],
        vkb: [plan.vkb],
        frontend: { kind: 'display', formats: plan.formats },
        verbose: true,
      });
      demo.addGuest(g, plan);
      say(`vdispld demo: guest ${g.domid} (${plan.vdispl})`);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }

  const snapshotDir = resolve(o.snapshots ?? 'vdispld-snapshots');
  const interactive = !json && process.stdin.isTTY === true && process.stdout.isTTY === true;
  let printed = 0;
  const draw = (): void => {
    const lines = demo.liveLines();
    if (interactive) {
      if (printed) process.stdout.write(`\x1b[${printed}A`);
      for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
      printed = lines.length;
    }
  };
  const snap = (): void => {
    const s = demo.snapshots(snapshotDir);
    if (interactive && printed) process.stdout.write(`\x1b[${printed}A\x1b[J`);
    printed = 0;
    say(`vdispld demo: wrote ${s.size} snapshot(s) to ${snapshotDir}`);
  };
  // Without a person at the viewer, the demo is the input source: a pointer circling on each guest's
  // main screen in turn, which the guest draws where it received it.
  const pointer = ops?.viewerInputOn ? undefined : new DemoPointer(daemon.input);
  const t0 = process.hrtime.bigint();
  let nonTtyTicks = 0;
  const ticker = setInterval(() => {
    demo.tick();
    if (interactive) draw();
    else if (!json && ++nonTtyTicks % 5 === 0) for (const l of demo.liveLines()) say(l);
  }, 1000);

  const onKey = (b: Buffer): void => {
    const k = b.toString();
    if (k === 's') snap();
    if (k === '\u0003' || k === 'q') process.kill(process.pid, 'SIGINT');
  };
  if (interactive) {
    say(
      o.duration ? `running for ${o.duration} s; s: snapshots, Ctrl-C: stop` : 's: write PNG snapshots, Ctrl-C: stop',
    );
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
  }
  process.on('SIGUSR1', snap);
  // --duration is time with every guest showing: on a loaded machine connecting alone can take
  // seconds. A guest that never shows does not hold the demo: after SHOW_WAIT_MS the time runs anyway.
  // Both timers are cleared however the demo stops (a signal may come first).
  let waiting: NodeJS.Timeout | undefined;
  let running: NodeJS.Timeout | undefined;
  const stopped = new Promise<string>((res) => {
    process.once('SIGINT', () => res('interrupted'));
    process.once('SIGTERM', () => res('terminated'));
    const seconds = o.duration;
    if (seconds !== undefined) {
      const asked = performance.now();
      waiting = setInterval(() => {
        if (!demo.allShowing() && performance.now() - asked < SHOW_WAIT_MS) return;
        clearInterval(waiting);
        running = setTimeout(() => res('duration reached'), seconds * 1000);
      }, 50);
    }
  });
  const why = await stopped;
  clearInterval(waiting);
  clearTimeout(running);
  clearInterval(ticker);
  pointer?.stop();
  if (interactive) {
    process.stdin.setRawMode(false);
    process.stdin.off('data', onKey);
    process.stdin.pause();
  }
  process.off('SIGUSR1', snap);
  const durationS = Number(process.hrtime.bigint() - t0) / 1e9;
  const snaps = o.snapshots !== undefined ? demo.snapshots(snapshotDir) : undefined;
  demo.freeze();
  const report = demo.report(durationS, snaps);
  await cleanup();
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    say(`vdispld demo: ${why}; stopped cleanly`);
    for (const c of report.connectors) {
      say(
        `  dom${c.domid} ${c.uniqueId}: ${c.flipEvents}/${c.framesSubmitted} flips with events, p50 ${c.flipLatencyMs.p50 ?? '-'} ms, p99 ${c.flipLatencyMs.p99 ?? '-'} ms, errors ${c.errors}, timeouts ${c.timeouts}${c.snapshot ? `, ${c.snapshot}` : ''}`,
      );
    }
  }
  return report.ok ? 0 : 1;
}
