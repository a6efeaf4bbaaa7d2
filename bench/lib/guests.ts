// Bench guests on a simulated host: a domain with one vdispl device, created as `xl create`
// does, and its guest kernel + measuring program in a process of its own (bench/guest/main.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { SimHost, VdisplPaths } from '../../src/sim/index.js';
import type { GuestCommand, GuestConfig, GuestReport } from '../guest/protocol.js';
import { BENCH_GUEST_NAME, type Backend } from './backends.js';
import { REPO } from './build.js';
import { track } from './children.js';

export interface GuestSpec {
  /** Backend domain of its vdispl device. */
  readonly backendDomid: number;
  /** Connector unique-ids, each 1920x1080 unless `resolution` says otherwise. */
  readonly connectors: readonly string[];
  readonly resolution?: string;
  readonly ramMiB?: number;
}

type ReportOf<K extends GuestReport['kind']> = Extract<GuestReport, { kind: K }>;

export class BenchGuest {
  private readonly reports: GuestReport[] = [];
  private readonly waiters: ((r: GuestReport) => boolean)[] = [];
  readonly exited: Promise<void>;

  private constructor(
    readonly domid: number,
    readonly device: VdisplPaths,
    private readonly child: ChildProcess,
  ) {
    this.exited = once(child, 'exit').then(() => undefined);
    child.on('message', (r: GuestReport) => {
      if (r.kind === 'error') process.stderr.write(`bench guest ${domid}: ${r.message}\n`);
      const i = this.waiters.findIndex((w) => w(r));
      if (i >= 0) this.waiters.splice(i, 1);
      else this.reports.push(r);
    });
  }

  /** Creates the domain and its device, starts its guest and has `backend` serve it; resolves when its card is up. */
  static async start(host: SimHost, backend: Backend, spec: GuestSpec): Promise<BenchGuest> {
    const res = spec.resolution ?? '1920x1080';
    const g = await host.createDomain({
      name: BENCH_GUEST_NAME,
      ramMiB: spec.ramMiB ?? 32 + 20 * spec.connectors.length,
      vdispl: [
        `backend=${spec.backendDomid},be-alloc=0,connectors=${spec.connectors.map((c) => `${c}:${res}`).join(';')}`,
      ],
      frontend: false,
    });
    const cfg: GuestConfig = { dir: host.dir, domid: g.domid, xenstoredPath: host.xenstored.domainSocketPath(g.domid) };
    const child = track(
      fork(join(REPO, 'bench', 'guest', 'main.ts'), [JSON.stringify(cfg)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const guest = new BenchGuest(g.domid, g.devices[0]!, child);
    try {
      const ready = guest.next('ready', 60_000);
      await backend.serve(guest.device);
      await ready;
    } catch (err) {
      await guest.close();
      throw err;
    }
    return guest;
  }

  /** The next report of `kind` (already received or to come); rejects after `timeoutMs` or on an error report. */
  next<K extends GuestReport['kind']>(kind: K, timeoutMs: number): Promise<ReportOf<K>> {
    const i = this.reports.findIndex((r) => r.kind === kind || r.kind === 'error');
    if (i >= 0) {
      const r = this.reports.splice(i, 1)[0]!;
      return r.kind === 'error'
        ? Promise.reject(new Error(`guest ${this.domid}: ${r.message}`))
        : Promise.resolve(r as ReportOf<K>);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const w = this.waiters.indexOf(waiter);
        if (w >= 0) this.waiters.splice(w, 1);
        reject(new Error(`guest ${this.domid}: no '${kind}' report within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: GuestReport): boolean => {
        if (r.kind === 'error') {
          clearTimeout(timer);
          reject(new Error(`guest ${this.domid}: ${r.message}`));
          return true;
        }
        if (r.kind !== kind) return false;
        clearTimeout(timer);
        resolve(r as ReportOf<K>);
        return true;
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends a command and waits for its report. */
  async ask<K extends GuestReport['kind']>(cmd: GuestCommand, kind: K, timeoutMs: number): Promise<ReportOf<K>> {
    const r = this.next(kind, timeoutMs);
    this.child.send(cmd);
    return r;
  }

  /** Ends the guest process (asked first, killed after 5 s). Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ cmd: 'exit' } satisfies GuestCommand);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts guests a few at a time: forking a dozen tsx processes at once only makes each slower. */
export async function startGuests(
  host: SimHost,
  backend: Backend,
  specs: readonly GuestSpec[],
  parallel = 4,
): Promise<BenchGuest[]> {
  const out: BenchGuest[] = [];
  for (let i = 0; i < specs.length; i += parallel) {
    const batch = await Promise.allSettled(specs.slice(i, i + parallel).map((s) => BenchGuest.start(host, backend, s)));
    for (const r of batch) if (r.status === 'fulfilled') out.push(r.value);
    const failed = batch.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(out.map((g) => g.close()));
      throw failed.reason;
    }
  }
  return out;
}
