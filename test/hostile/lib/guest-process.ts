// A guest kernel started, killed and started again by the campaign itself, for domains created
// without one (SimHost.createDomain with frontend: false): what a guest whose kernel crashes and
// comes back in place looks like to the backend. Runs the same simulated xen-drm-front process
// the host forks, with a crash plan when asked.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Behaviour, CrashPlan, FrontendConfig } from '../../../src/sim/frontend/protocol.js';
import { SimGuest, type SimHost } from '../../../src/sim/host.js';

const FRONTEND_MAIN = fileURLToPath(new URL('../../../src/sim/frontend/main.ts', import.meta.url));

export interface GuestKernelOptions {
  readonly behaviour: Behaviour;
  readonly crash?: CrashPlan;
  readonly verbose?: boolean;
}

/** Forks a frontend for `domid` (already created, devices added) and waits until it is up. */
export async function startGuestKernel(host: SimHost, domid: number, opts: GuestKernelOptions): Promise<SimGuest> {
  const cfg: FrontendConfig = {
    dir: host.dir,
    domid,
    xenstoredPath: host.xenstored.domainSocketPath(domid),
    behaviour: opts.behaviour,
    verbose: opts.verbose ?? true,
    ...(opts.crash ? { crash: opts.crash } : {}),
  };
  const execArgv = [
    ...process.execArgv.filter((a) => !a.startsWith('--test')),
    ...(process.execArgv.some((a) => a.includes('tsx')) ? [] : ['--import', 'tsx']),
  ];
  const child = fork(FRONTEND_MAIN, [JSON.stringify(cfg)], {
    execArgv,
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const guest = new SimGuest(domid, `dom${domid}`, [], child);
  const ready = guest.waitFor((r) => r.kind === 'ready' || r.kind === 'error', { timeoutMs: 15_000 });
  // A crash plan may kill it before it is ready (at 'initialising'): that is not a start failure.
  const first = await Promise.race([ready, guest.exited.then(() => undefined)]);
  if (first?.kind === 'error') throw new Error(`guest ${domid}: ${first.message}`);
  return guest;
}

/** SIGKILL and wait. Idempotent. */
export async function killGuestKernel(g: SimGuest): Promise<void> {
  const p = g.process;
  if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await g.exited;
}
