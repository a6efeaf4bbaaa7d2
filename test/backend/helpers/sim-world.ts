// A simulated host with the backend serving it: in this process (so tests can read its counters),
// or as a separate `vdispld run` process (so tests can kill it). Guests are separate processes
// running the simulated xen-drm-front.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DisplayBackend } from '../../../src/backend/backend.js';
import { OutputMap } from '../../../src/backend/output-map.js';
import { DEFAULT_QUOTAS, type Quotas } from '../../../src/backend/quotas.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { FrontendReport } from '../../../src/sim/frontend/protocol.js';
import { SimHost, type SimGuest } from '../../../src/sim/host.js';
import type { SimPlatform } from '../../../src/sim/platform.js';
import { createLogger, silentLogger, type Logger } from '../../../src/util/log.js';
import { waitFor } from './test-frontend.js';

export interface SimWorld {
  host: SimHost;
  platform: SimPlatform;
  headless: HeadlessBackend;
  backend: DisplayBackend;
  close(): Promise<void>;
}

function testLogger(): Logger {
  return process.env.VDISPLD_TEST_LOG ? createLogger({ level: 'debug', name: 'test-backend' }) : silentLogger();
}

export async function simWorld(opts: { quotas?: Quotas } = {}): Promise<SimWorld> {
  const host = await SimHost.start();
  const platform = await host.platform();
  const xs = await host.xenstore(0);
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({ backends: [headless], onDemand: headless });
  const backend = await DisplayBackend.start({
    xs,
    platform,
    outputs,
    log: testLogger(),
    quotas: opts.quotas ?? DEFAULT_QUOTAS,
  });
  return {
    host,
    platform,
    headless,
    backend,
    close: async () => {
      await backend.close();
      await headless.close();
      await host.close();
    },
  };
}

/** Zero live mappings, bindings, granted buffers and framebuffers, and no zombie domain. */
export async function assertClean(w: SimWorld, why: string): Promise<void> {
  await w.backend.settled();
  await w.platform.sync();
  assert.deepEqual(
    w.platform.resources(),
    { grantMappings: 0, mappedPages: 0, exportedDmaBufs: 0, grantedBuffers: 0, eventChannels: 0 },
    why,
  );
  const r = w.backend.resources();
  assert.equal(r.connected + r.buffers + r.framebuffers + r.bufferPages, 0, `${why}: backend ${JSON.stringify(r)}`);
  assert.equal(w.headless.resources().framebuffers, 0, `${why}: output framebuffers`);
  assert.equal(w.host.grantStats(0)?.mappings, 0, `${why}: dom0 grant mappings in the hypervisor`);
  await w.host.hypervisor.waitNoZombies(2000);
  assert.deepEqual(w.host.zombies(), [], `${why}: zombie domains`);
}

export type FrameReport = Extract<FrontendReport, { kind: 'frame' }>;

export function frames(g: SimGuest, devid = 0, conn?: number): FrameReport[] {
  return g.reports.filter(
    (r): r is FrameReport => r.kind === 'frame' && r.devid === devid && (conn === undefined || r.conn === conn),
  );
}

/** Reports a guest should never make against a correct backend. */
export function troubles(g: SimGuest): FrontendReport[] {
  return g.reports.filter(
    (r) =>
      r.kind === 'timeout' ||
      r.kind === 'ignored-response' ||
      r.kind === 'event-dropped' ||
      r.kind === 'ring-violation' ||
      r.kind === 'fatal' ||
      r.kind === 'error' ||
      (r.kind === 'frame' && (r.status !== 0 || r.flip !== 'event')) ||
      (r.kind === 'request' && r.status !== 0),
  );
}

export function waitConnected(g: SimGuest, devid = 0, fresh = false, timeoutMs = 15_000): Promise<FrontendReport> {
  return g.waitFor((r) => r.kind === 'connected' && r.devid === devid, { fresh, timeoutMs });
}

const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

/**
 * `vdispld run` against the host, as a separate process; resolves once it watches XenStore.
 * `main`: a built bundle's main.js instead of the sources under tsx; `onLog`: its stderr as it comes.
 */
export async function spawnDaemon(
  host: SimHost,
  extra: string[] = [],
  opts: { main?: string; env?: NodeJS.ProcessEnv; onLog?: (chunk: string) => void } = {},
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(opts.main !== undefined ? [opts.main] : ['--import', 'tsx', MAIN]),
      'run',
      '--platform',
      'sim',
      '--sim-dir',
      host.dir,
      '--xenstore',
      host.xenstoredPath,
      '--output',
      'headless',
      '--log-level',
      'info',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.env ? { env: opts.env } : {}) },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    opts.onLog?.(d.toString());
    if (process.env.VDISPLD_TEST_LOG) process.stderr.write(d);
  });
  await waitFor(
    'the daemon watching XenStore',
    () => {
      if (child.exitCode !== null) throw new Error(`vdispld run exited with ${child.exitCode}: ${log}`);
      return log.includes('watching for vdispl devices');
    },
    30_000,
  );
  return child;
}

export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}
