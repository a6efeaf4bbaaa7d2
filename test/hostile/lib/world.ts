// A campaign's world: a simulated Xen host, the daemon as its own `vdispld run` process, and the
// measurements every campaign ends with — what dom0 still holds in the hypervisor (grant
// mappings, event channels, granted pages) and whether any destroyed domain lingers as a zombie.
// Those are read from the hypervisor, not from the daemon: they are what a leak would cost Xen.
import { SimHost, type SimHostOptions } from '../../../src/sim/host.js';
import { LoopLag } from '../probe/loop-lag.js';
import { DaemonProcess, type DaemonProcessOptions } from './daemon-process.js';

export interface Dom0Holdings {
  /** Grant mappings (handles) dom0 processes hold on guests' pages, and the pages they cover. */
  readonly mappings: number;
  readonly mappedPages: number;
  /** Event-channel ports bound by dom0. */
  readonly ports: number;
  /** Grant refs and pages dom0 allocated (be-alloc buffers granted to guests). */
  readonly grantedRefs: number;
  readonly allocatedPages: number;
  /** Entries of dom0's grant table some guest still maps. */
  readonly pinnedEntries: number;
  readonly zombies: readonly number[];
}

export function dom0Holdings(host: SimHost): Dom0Holdings {
  const g = host.grantStats(0);
  return {
    mappings: g?.mappings ?? 0,
    mappedPages: g?.mappedPages ?? 0,
    ports: host.hypervisor.portCount(0),
    grantedRefs: g?.allocatedRefs ?? 0,
    allocatedPages: g?.allocatedPages ?? 0,
    pinnedEntries: g?.pinnedEntries ?? 0,
    zombies: host.zombies(),
  };
}

export function isEmpty(h: Dom0Holdings): boolean {
  return (
    h.mappings === 0 &&
    h.mappedPages === 0 &&
    h.ports === 0 &&
    h.grantedRefs === 0 &&
    h.allocatedPages === 0 &&
    h.pinnedEntries === 0 &&
    h.zombies.length === 0
  );
}

/** Waits (bounded) until dom0 holds nothing; returns what it last saw. */
export async function waitEmpty(host: SimHost, timeoutMs = 10_000): Promise<Dom0Holdings> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const h = dom0Holdings(host);
    if (isEmpty(h) || Date.now() > until) return h;
    await sleep(20);
  }
}

export interface World {
  readonly host: SimHost;
  daemon: DaemonProcess;
  /** Where the daemon's probe writes (DaemonProcessOptions.probeDir), if it is measured. */
  readonly probeDir?: string;
  /** This process's event-loop lag: the simulated hypervisor and xenstored run here. */
  readonly lag: LoopLag;
  close(): Promise<void>;
}

export async function startWorld(opts: DaemonProcessOptions & { readonly host?: SimHostOptions } = {}): Promise<World> {
  const host = await SimHost.start(opts.host);
  let daemon: DaemonProcess;
  try {
    daemon = await DaemonProcess.start(host, opts);
  } catch (err) {
    await host.close();
    throw err;
  }
  const lag = new LoopLag(opts.recordStallsFromMs);
  const world: World = {
    host,
    daemon,
    ...(opts.probeDir ? { probeDir: opts.probeDir } : {}),
    lag,
    close: async () => {
      lag.close();
      await world.daemon.kill();
      await host.close();
    },
  };
  return world;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` every 10 ms until it returns a value (not undefined/false), or throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
