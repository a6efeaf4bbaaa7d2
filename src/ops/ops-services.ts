// The operations side of a running daemon, started and stopped as one: metrics (and its listener),
// the control socket for `vdispld status`/`snapshot`, the live viewer, and the once-a-second frame
// rate sampling they share. It reads the daemon only through a DaemonProbe.
import type { Logger } from '../util/log.js';
import type { ListenSetting } from './config/listen.js';
import { isLoopback } from './config/listen.js';
import { ControlServer, type ControlReply } from './control/control-server.js';
import { parseTarget, type ControlRequest, type SnapshotHeader } from './control/protocol.js';
import { PngEncoder } from './frames/png-encoder.js';
import { Metrics } from './metrics/metrics.js';
import type { MetricsServer } from './metrics/metrics-server.js';
import { connectorKey, type DaemonProbe, type ShownVia } from './probe.js';
import { FrameRates } from './status/frame-rate.js';
import { buildStatus, type StatusReport } from './status/status-report.js';
import type { ViewerServer } from './viewer/viewer-server.js';

export interface OpsOptions {
  readonly probe: DaemonProbe;
  readonly log: Logger;
  readonly version: string;
  /** Unix socket path, or undefined for none (tests, `demo` without it). */
  readonly controlSocket: string | undefined;
  /**
   * The socket is the default, not asked for: if it cannot be had (another daemon holds it, no
   * right to /run), run without it and say so, rather than not serving guests.
   */
  readonly controlSocketOptional?: boolean;
  readonly metrics: ListenSetting;
  readonly viewer: ListenSetting;
  /** The viewer page may send keyboard, mouse and touch to the guest it shows (--viewer-input). */
  readonly viewerInput?: boolean;
  /** Settings in force with their origin, for status. */
  readonly config?: () => StatusReport['config'];
  /** How a connector's shown framebuffer reaches the screen, by domid/dev/conn. */
  readonly pathOf?: (key: string) => ShownVia | undefined;
  readonly logSuppressed?: () => number;
  /** Frame-rate sampling period (default 1000 ms). */
  readonly sampleMs?: number;
}

export class OpsServices {
  readonly metrics: Metrics;
  readonly rates = new FrameRates();
  private readonly encoder = new PngEncoder();
  private control: ControlServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private viewerServer: ViewerServer | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly startedAtMs = Date.now();
  private pathOf: ((key: string) => ShownVia | undefined) | undefined;

  private constructor(private readonly opts: OpsOptions) {
    this.metrics = new Metrics(opts.probe, opts.logSuppressed ? { logSuppressed: opts.logSuppressed } : {});
    this.pathOf = opts.pathOf;
  }

  /** How connectors' framebuffers reach the screen, once the daemon can say. */
  setPathOf(pathOf: (key: string) => ShownVia | undefined): void {
    this.pathOf = pathOf;
  }

  static async start(opts: OpsOptions): Promise<OpsServices> {
    const ops = new OpsServices(opts);
    try {
      ops.sampleNow();
      ops.sampler = setInterval(() => ops.sampleNow(), opts.sampleMs ?? 1000);
      ops.sampler.unref();
      if (opts.controlSocket !== undefined) {
        try {
          ops.control = await ControlServer.listen(opts.controlSocket, (req) => ops.answer(req));
          opts.log.info({ path: opts.controlSocket }, `control socket ${opts.controlSocket}`);
        } catch (err) {
          if (!opts.controlSocketOptional) throw err;
          opts.log.warn(
            `${(err as Error).message}; running without a control socket (vdispld status and snapshot will not reach this daemon; set --control-socket)`,
          );
        }
      }
      // The listeners' modules (http, ws) load only when asked for: most daemons run without them,
      // and loading them is a good part of start-up (docs/PERFORMANCE.md).
      if (opts.metrics !== 'off') {
        const { MetricsServer } = await import('./metrics/metrics-server.js');
        await ops.metrics.build();
        ops.metricsServer = await MetricsServer.listen(opts.metrics, ops.metrics);
        ops.announce('metrics', ops.metricsServer.address, '/metrics');
      }
      if (opts.viewer !== 'off') {
        const { ViewerServer } = await import('./viewer/viewer-server.js');
        ops.viewerServer = await ViewerServer.listen(opts.viewer, {
          probe: opts.probe,
          rates: ops.rates,
          encoder: ops.encoder,
          log: opts.log,
          input: opts.viewerInput === true,
        });
        ops.announce('viewer', ops.viewerServer.address, '/');
      }
    } catch (err) {
      await ops.close();
      throw err;
    }
    return ops;
  }

  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsServer?.address;
  }

  get viewerAddress(): { host: string; port: number } | undefined {
    return this.viewerServer?.address;
  }

  status(): StatusReport {
    const cfg = this.opts.config?.();
    return buildStatus({
      probe: this.opts.probe,
      rates: this.rates,
      version: this.opts.version,
      startedAtMs: this.startedAtMs,
      nowMs: Date.now(),
      ...(cfg ? { config: cfg } : {}),
      listeners: {
        ...(this.metricsServer ? { metrics: `${url(this.metricsServer.address)}/metrics` } : {}),
        ...(this.viewerServer ? { viewer: `${url(this.viewerServer.address)}/` } : {}),
        ...(this.control ? { controlSocket: this.control.path } : {}),
      },
      ...(this.pathOf ? { pathOf: this.pathOf } : {}),
    });
  }

  /** The PNG of the frame a connector shows now, or an error naming why there is none. */
  async snapshot(target: string): Promise<{ header: SnapshotHeader; png: Buffer } | { error: string }> {
    const t = parseTarget(target);
    if (!t)
      return { error: `snapshot target ${JSON.stringify(target.slice(0, 40))}: expected DOMID/DEV/CONN, e.g. 1/0/0` };
    const dev = this.opts.probe.devices().find((d) => d.domid === t.domid && d.devId === t.devId);
    if (!dev) return { error: `no vdispl device ${t.devId} of domain ${t.domid}` };
    const ref = t.conn;
    const conn = dev.connectors.find((c) => ('index' in ref ? c.index === ref.index : c.uniqueId === ref.uniqueId));
    const named = 'index' in ref ? String(ref.index) : JSON.stringify(ref.uniqueId);
    if (!conn)
      return { error: `dom${t.domid} device ${t.devId} has no connector ${named} connected (state ${dev.phase})` };
    const frame = this.opts.probe.frame(conn.output);
    if (!frame)
      return { error: `connector ${target} (output ${conn.output}) shows nothing: the guest has not configured it` };
    const png = await this.encoder.encode(frame);
    return {
      header: {
        target: connectorKey(t.domid, t.devId, conn.index),
        output: conn.output,
        width: frame.width,
        height: frame.height,
        sequence: frame.sequence,
        type: 'image/png',
        bytes: png.length,
      },
      png,
    };
  }

  /** Idempotent; stops every listener and the sampler. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.sampler) clearInterval(this.sampler);
      this.sampler = undefined;
      await Promise.all([this.control?.close(), this.metricsServer?.close(), this.viewerServer?.close()]);
      await this.encoder.close();
    })();
    return this.closing;
  }

  private sampleNow(): void {
    this.rates.sample(this.opts.probe.devices(), Date.now());
  }

  private async answer(req: ControlRequest): Promise<ControlReply> {
    if (req.cmd === 'status') return { header: { status: this.status() } };
    const r = await this.snapshot(req.target);
    if ('error' in r) return { error: r.error };
    return { header: { snapshot: r.header }, payload: r.png };
  }

  private announce(what: string, a: { host: string; port: number }, path: string): void {
    this.opts.log.info({ address: url(a) }, `${what} on ${url(a)}${path}`);
    if (!isLoopback(a.host))
      this.opts.log.warn(`${what} listens on ${a.host}, reachable from other machines, without authentication`);
  }
}

function url(a: { host: string; port: number }): string {
  return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
