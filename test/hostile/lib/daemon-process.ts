// `vdispld run` against a simulated host, as its own OS process: the daemon a campaign attacks.
// Running it apart from the campaign lets the campaign see it die (or not), kill it with SIGKILL,
// and measure its CPU, memory and descriptors from /proc without counting the simulator's work.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimHost } from '../../../src/sim/host.js';
import { sampleProcess, type ProcSample } from './proc-stats.js';

const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));
/**
 * A hang guard, not a performance bar: under tsx the daemon compiles its sources at start, and at
 * a load of 18 on this 2-core machine (a QEMU VM and four engineers' tests) that once took longer
 * than the 30 s this used to be, failing a full faults campaign before it began.
 */
const READY_TIMEOUT_MS = 120_000;
/** The daemon's log kept for failure messages: the last lines only, a hostile run logs a lot. */
const LOG_TAIL_BYTES = 64 * 1024;

export interface DaemonProcessOptions {
  /** XenStore socket the daemon talks to (default the host's dom0 socket; a proxy for xenstored restarts). */
  readonly xenstore?: string;
  /** At least 'info': readiness is its 'watching for vdispl devices' line. */
  readonly logLevel?: 'debug' | 'info';
  readonly extraArgs?: readonly string[];
  /** Default READY_TIMEOUT_MS. */
  readonly readyTimeoutMs?: number;
  /**
   * Measure the daemon: its event-loop lag (written to `<dir>/loop-lag.json` at exit) and a V8 CPU
   * profile (`<dir>/*.cpuprofile`, by --cpu-prof, also at exit). Both need an orderly stop().
   */
  readonly probeDir?: string;
  /** With probeDir: false measures the loop lag only, without the CPU profile's overhead. */
  readonly cpuProfile?: boolean;
  /** With probeDir: keep the daemon's loop stalls from this length up with their time (default 50 ms). */
  readonly recordStallsFromMs?: number;
}

const PRELOAD = fileURLToPath(new URL('../probe/daemon-preload.ts', import.meta.url));
/** The daemon's loop-lag summary in a probe directory. */
export const DAEMON_LAG_FILE = 'loop-lag.json';

export class DaemonProcess {
  private logTail = '';
  private readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Set when the campaign itself stopped or killed it: an exit then is not a failure. */
  private expectedExit = false;

  private constructor(
    readonly child: ChildProcess,
    /** Its control socket (`vdispld status` answers there). */
    readonly controlSocket: string,
  ) {
    child.stderr!.on('data', (d: Buffer) => {
      this.logTail = (this.logTail + d.toString()).slice(-LOG_TAIL_BYTES);
      if (process.env.VDISPLD_TEST_LOG) process.stderr.write(d);
    });
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  static async start(host: SimHost, opts: DaemonProcessOptions = {}): Promise<DaemonProcess> {
    // Its own control socket in the host's directory: never the system's, never shared.
    const controlSocket = join(host.dir, `vdispld-control-${Date.now()}-${Math.floor(Math.random() * 1e6)}.sock`);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        ...(opts.probeDir
          ? [
              '--import',
              PRELOAD,
              ...(opts.cpuProfile === false ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.probeDir}`]),
            ]
          : []),
        MAIN,
        'run',
        '--platform',
        'sim',
        '--sim-dir',
        host.dir,
        '--xenstore',
        opts.xenstore ?? host.xenstoredPath,
        '--output',
        'headless',
        '--log-level',
        opts.logLevel ?? 'info',
        '--control-socket',
        controlSocket,
        ...(opts.extraArgs ?? []),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(opts.probeDir
          ? {
              env: {
                ...process.env,
                HOSTILE_LOOP_PROBE_OUT: join(opts.probeDir, DAEMON_LAG_FILE),
                ...(opts.recordStallsFromMs !== undefined
                  ? { HOSTILE_LOOP_PROBE_RECORD_MS: String(opts.recordStallsFromMs) }
                  : {}),
              },
            }
          : {}),
      },
    );
    const d = new DaemonProcess(child, controlSocket);
    const until = Date.now() + (opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
    while (!d.logTail.includes('watching for vdispl devices')) {
      if (d.exitInfo)
        throw new Error(`vdispld run exited (${JSON.stringify(d.exitInfo)}) before it was ready:\n${d.logTail}`);
      if (Date.now() > until) {
        await d.kill();
        throw new Error(`vdispld run not ready within ${opts.readyTimeoutMs ?? READY_TIMEOUT_MS} ms:\n${d.logTail}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Still running, and no one asked it to stop: the first pass criterion of every campaign. */
  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** Exited without being told to (a crash). */
  get died(): boolean {
    return this.exitInfo !== undefined && !this.expectedExit;
  }

  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  get log(): string {
    return this.logTail;
  }

  sample(): ProcSample {
    return sampleProcess(this.pid);
  }

  /** SIGTERM and wait: the daemon's own orderly stop (releases everything, tells guests). */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exitInfo) return this.exitInfo;
    this.expectedExit = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exitPromise;
    clearTimeout(timer);
    return r;
  }

  /** SIGKILL and wait. Idempotent. */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.expectedExit = true;
    this.child.kill('SIGKILL');
    await this.exitPromise;
  }
}
