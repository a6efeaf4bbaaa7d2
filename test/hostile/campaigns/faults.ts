// Faults: a guest kernel killed at every step of the XenBus handshake and of a request, then
// started again in place; domains destroyed while their buffers are mapped and flips are in
// flight; xenstored going away under the daemon and coming back (while the toolstack creates one
// guest and destroys another); the daemon killed with SIGKILL and started again with guests
// running; an output that drops flips, throws from flip() and refuses a modeset.
// Pass: every guest recovers by itself, dom0 holds nothing afterwards, no zombie domain, and the
// daemon never dies on its own.
import { join } from 'node:path';
import { DisplayBackend } from '../../../src/backend/backend.js';
import { OutputMap } from '../../../src/backend/output-map.js';
import { Op } from '../../../src/displif/constants.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { CrashPlan, FrontendReport, ScriptStep } from '../../../src/sim/frontend/protocol.js';
import { SimHost, type SimGuest } from '../../../src/sim/host.js';
import { silentLogger } from '../../../src/util/log.js';
import { DaemonProcess } from '../lib/daemon-process.js';
import { FailingBackend } from '../lib/failing-output.js';
import { startGuestKernel, killGuestKernel } from '../lib/guest-process.js';
import { flipFigures, goodGuestTroubles } from '../lib/guests.js';
import { CampaignResult } from '../lib/result.js';
import { SocketProxy } from '../lib/socket-proxy.js';
import { isEmpty, sleep, startWorld, waitEmpty, type World } from '../lib/world.js';

export interface CrashCase {
  readonly plan: CrashPlan;
  readonly beAlloc: boolean;
}

export interface FaultCampaignOptions {
  readonly crashes: readonly CrashCase[];
  readonly daemonKills: number;
  readonly xenstoredOutages: number;
  readonly outageMs: number;
  readonly log?: (line: string) => void;
}

const HANDSHAKE: CrashPlan[] = [
  { step: 'initialising' },
  { step: 'rings-allocated' },
  { step: 'rings-published' },
  { step: 'initialised' },
  { step: 'connected' },
];
const REQUESTS: CrashPlan[] = [
  { step: 'request-pushed', op: Op.DBUF_CREATE },
  { step: 'response-received', op: Op.DBUF_CREATE },
  { step: 'request-pushed', op: Op.FB_ATTACH },
  { step: 'request-pushed', op: Op.SET_CONFIG },
  { step: 'request-pushed', op: Op.PG_FLIP, nth: 5 },
  { step: 'response-received', op: Op.PG_FLIP, nth: 5 },
  { step: 'event-received', nth: 5 },
];

export const FAULTS_FULL: FaultCampaignOptions = {
  crashes: [...HANDSHAKE, ...REQUESTS].flatMap((plan) => [false, true].map((beAlloc) => ({ plan, beAlloc }))),
  daemonKills: 3,
  xenstoredOutages: 3,
  outageMs: 2000,
};

export const FAULTS_SHORT: FaultCampaignOptions = {
  crashes: [
    { plan: { step: 'rings-published' }, beAlloc: false },
    { plan: { step: 'request-pushed', op: Op.PG_FLIP, nth: 5 }, beAlloc: true },
  ],
  daemonKills: 1,
  xenstoredOutages: 1,
  outageMs: 1000,
};

function planName(c: CrashCase): string {
  const op = c.plan.op === undefined ? '' : `(op 0x${c.plan.op.toString(16)})`;
  return `${c.plan.step}${op}${c.plan.nth ? `#${c.plan.nth}` : ''}${c.beAlloc ? ' be-alloc' : ''}`;
}

const isConnected = (r: FrontendReport): boolean => r.kind === 'connected';

/** Waits for a fresh connection and `frames` flips released by their events after report index `from`. */
async function recovered(g: SimGuest, from: number, frames: number, timeoutMs: number): Promise<boolean> {
  try {
    await g.waitFor((r) => isConnected(r) && g.reports.indexOf(r) >= from, { timeoutMs });
    await g.waitFor(
      (r) =>
        r.kind === 'frame' && r.flip === 'event' && r.status === 0 && r.frame >= frames && g.reports.indexOf(r) >= from,
      { timeoutMs },
    );
    return true;
  } catch {
    return false;
  }
}

/** `xl destroy` of a domain whose guest kernel the campaign runs: paused first, killed after. */
async function destroyOwnGuest(host: SimHost, g: SimGuest): Promise<void> {
  const p = g.process;
  if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGSTOP');
  await host.destroyDomain(g.domid, { deviceTimeoutMs: 10_000 });
  await killGuestKernel(g);
}

async function crashCases(w: World, o: FaultCampaignOptions, res: CampaignResult): Promise<void> {
  let recoveredCount = 0;
  for (const c of o.crashes) {
    const name = planName(c);
    const dom = await w.host.createDomain({
      vdispl: [`${c.beAlloc ? 'be-alloc=1,' : ''}connectors=c0:320x240`],
      frontend: false,
    });
    const first = await startGuestKernel(w.host, dom.domid, {
      behaviour: { kind: 'display', maxFps: 60 },
      crash: c.plan,
    });
    const died = await Promise.race([first.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!res.check(died, `crash at ${name}: the guest never reached that step`)) {
      await killGuestKernel(first);
    }
    const second = await startGuestKernel(w.host, dom.domid, { behaviour: { kind: 'display', maxFps: 60 } });
    const ok = await recovered(second, 0, 10, 20_000);
    if (res.check(ok, `crash at ${name}: the guest started again in place did not reconnect and flip`))
      recoveredCount++;
    const troubles = goodGuestTroubles(second.reports);
    res.check(
      troubles.length === 0,
      `crash at ${name}: the restarted guest saw ${JSON.stringify(troubles.slice(0, 3))}`,
    );
    await destroyOwnGuest(w.host, second);
    const left = await waitEmpty(w.host);
    res.check(isEmpty(left), `crash at ${name}: dom0 still holds ${JSON.stringify(left)} after xl destroy`);
    o.log?.(`crash at ${name}: ${ok ? 'recovered' : 'NOT recovered'}, dom0 ${isEmpty(left) ? 'clean' : 'NOT clean'}`);
  }
  res.set('guest kernels killed at a step, recovered in place', `${recoveredCount} / ${o.crashes.length}`);
}

async function destroyWhileMapped(w: World, res: CampaignResult): Promise<void> {
  // Three guests, one with a be-alloc device, all flipping; destroyed at once.
  const guests: SimGuest[] = [];
  for (let i = 0; i < 3; i++) {
    const vdispl = [`connectors=d${i}a:320x240;d${i}b:200x150`];
    if (i === 1) vdispl.push('be-alloc=1,connectors=d1c:256x192');
    guests.push(await w.host.createDomain({ vdispl, frontend: { kind: 'display', maxFps: 60 }, verbose: true }));
  }
  for (const g of guests) await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
  const held = w.host.grantStats(0)?.mappedPages ?? 0;
  res.set('pages mapped when 3 guests were destroyed', held);
  res.check(held > 0, 'no guest pages were mapped before the destroy');
  await Promise.all(guests.map((g) => w.host.destroyDomain(g.domid)));
  const left = await waitEmpty(w.host);
  res.check(isEmpty(left), `destroy with buffers mapped: dom0 still holds ${JSON.stringify(left)}`);
}

async function xenstoredOutages(o: FaultCampaignOptions, res: CampaignResult): Promise<void> {
  const host = await SimHost.start();
  const proxy = await SocketProxy.start(join(host.dir, 'xs-relay.sock'), host.xenstoredPath);
  let daemon: DaemonProcess | undefined;
  try {
    daemon = await DaemonProcess.start(host, { xenstore: proxy.path });
    const steady = await host.createDomain({
      vdispl: ['connectors=s0:320x240'],
      frontend: { kind: 'display', maxFps: 60 },
      verbose: true,
    });
    await steady.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
    const steadyFrom = steady.reports.length;
    let leaving = await host.createDomain({
      vdispl: ['connectors=l0:160x120'],
      frontend: { kind: 'display', maxFps: 60 },
      verbose: true,
    });
    await leaving.waitFor((r) => r.kind === 'frame' && r.frame >= 5, { timeoutMs: 30_000 });
    let recoveredCount = 0;
    for (let i = 0; i < o.xenstoredOutages; i++) {
      await proxy.down();
      // While xenstored is gone for the daemon: one guest created, another destroyed (libxl waits
      // up to 10 s for the backend to go Closed).
      const arriving = host.createDomain({
        vdispl: ['connectors=a0:160x120'],
        frontend: { kind: 'display', maxFps: 60 },
        verbose: true,
      });
      const destroyed = host.destroyDomain(leaving.domid);
      await sleep(o.outageMs);
      await proxy.up();
      const fresh = await arriving;
      const ok = await recovered(fresh, 0, 10, 30_000);
      await destroyed;
      if (res.check(ok, `xenstored outage ${i + 1}: a guest created during the outage was not served after it`))
        recoveredCount++;
      leaving = fresh;
    }
    const flips = flipFigures(steady.reports, 1000, steadyFrom);
    res.set('xenstored outages survived', `${recoveredCount} / ${o.xenstoredOutages}`);
    res.set('steady guest flips during outages (failed)', `${flips.frames} (${flips.failed})`);
    res.check(
      flips.failed === 0 && goodGuestTroubles(steady.reports, steadyFrom).length === 0,
      'the steady guest was disturbed by xenstored going away',
    );
    res.check(
      daemon.alive,
      `the daemon died across xenstored outages: ${JSON.stringify(daemon.exit)}\n${daemon.log.slice(-2000)}`,
    );
    await host.destroyDomain(steady.domid);
    await host.destroyDomain(leaving.domid);
    const left = await waitEmpty(host);
    res.check(isEmpty(left), `after xenstored outages: dom0 still holds ${JSON.stringify(left)}`);
  } finally {
    await daemon?.kill();
    await proxy.close();
    await host.close();
  }
}

async function daemonKills(w: World, o: FaultCampaignOptions, res: CampaignResult): Promise<void> {
  const a = await w.host.createDomain({
    vdispl: ['connectors=k0:320x240;k1:160x120'],
    frontend: { kind: 'display', maxFps: 60 },
    verbose: true,
  });
  const b = await w.host.createDomain({
    vdispl: ['be-alloc=1,connectors=k2:256x192'],
    frontend: { kind: 'display', maxFps: 60 },
    verbose: true,
  });
  for (const g of [a, b]) await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
  let recoveredCount = 0;
  for (let i = 0; i < o.daemonKills; i++) {
    await w.daemon.kill();
    const released = await waitEmpty(w.host, 5000);
    res.check(
      released.mappings === 0 && released.ports === 0,
      `after SIGKILL of the daemon the hypervisor still has dom0 holding ${JSON.stringify(released)}`,
    );
    const marks = [a.reports.length, b.reports.length];
    w.daemon = await DaemonProcess.start(w.host);
    const ok = (await recovered(a, marks[0]!, 10, 30_000)) && (await recovered(b, marks[1]!, 10, 30_000));
    if (res.check(ok, `daemon kill ${i + 1}: the guests did not reconnect and flip by themselves`)) recoveredCount++;
  }
  res.set('daemon SIGKILL + restart with guests running, recovered', `${recoveredCount} / ${o.daemonKills}`);
  await w.host.destroyDomain(a.domid);
  await w.host.destroyDomain(b.domid);
  const left = await waitEmpty(w.host);
  res.check(isEmpty(left), `after daemon restarts: dom0 still holds ${JSON.stringify(left)}`);
}

/** In this process (the output is injected): drops, a refused modeset, and a flip() that throws. */
async function failingOutput(res: CampaignResult): Promise<void> {
  const host = await SimHost.start();
  const platform = await host.platform();
  const inner = new HeadlessBackend([{ name: 'out0', width: 320, height: 240 }]);
  const failing = new FailingBackend(inner, { dropEvery: 3, throwEvery: 0, refuseModesets: 1 });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  let backend: DisplayBackend | undefined;
  try {
    backend = await DisplayBackend.start({
      xs: await host.xenstore(0),
      platform,
      outputs: new OutputMap({
        backends: [failing, inner],
        onDemand: inner,
        connectorMap: new Map([['flaky/out0', 'out0']]),
      }),
      log: silentLogger(),
    });
    const g = await host.createDomain({
      name: 'flaky',
      vdispl: ['connectors=out0:320x240'],
      frontend: { kind: 'idle' },
      verbose: false,
    });
    await g.waitFor(isConnected, { timeoutMs: 15_000 });
    const flips = (n: number): ScriptStep[] =>
      Array.from({ length: n }, (_, i) => ({ op: 'flip', conn: 0, fb: `f${i % 2}` }) as const);
    const setup: ScriptStep[] = [
      { op: 'dumb-create', name: 'b0', width: 320, height: 240, bpp: 32 },
      { op: 'dumb-create', name: 'b1', width: 320, height: 240, bpp: 32 },
      { op: 'add-fb', name: 'f0', buffer: 'b0', width: 320, height: 240, format: 'XRGB8888' },
      { op: 'add-fb', name: 'f1', buffer: 'b1', width: 320, height: 240, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'f0' },
      { op: 'disable', conn: 0 },
      { op: 'enable', conn: 0, fb: 'f0' },
      ...flips(30),
    ];
    const r1 = await g.run(setup);
    const statuses = r1.map((s) => s.status);
    res.check(
      statuses[4] === -5 && statuses.every((s, i) => i === 4 || s === 0),
      `a refused modeset is -EIO for that request only; got ${JSON.stringify(statuses)}`,
    );
    res.check(
      r1.filter((s) => s.op === 'flip').every((s) => s.flip === 'event'),
      'flips the output dropped were not all released by their events',
    );
    // Now flip() itself throws every 4th time: the daemon must answer, not die.
    failing.mode.dropEvery = 0;
    failing.mode.throwEvery = 4;
    const r2 = await g.run(flips(20));
    failing.mode.throwEvery = 0;
    const r3 = await g.run([{ op: 'disable', conn: 0 }, { op: 'enable', conn: 0, fb: 'f0' }, ...flips(10)]);
    res.set('output failures injected', failing.injected);
    res.check(uncaught.length === 0, `an output whose flip() throws raised in the daemon: ${String(uncaught[0])}`);
    res.check(
      r2.every((s) => s.status === 0 || s.status === -5) &&
        r3.every((s) => s.status === 0 && (s.op !== 'flip' || s.flip === 'event')),
      `after flips that threw, the guest did not recover: ${JSON.stringify([...r2, ...r3].map((s) => [s.op, s.status, s.flip]))}`,
    );
    await host.destroyDomain(g.domid);
    await backend.settled();
    const r = backend.resources();
    res.check(
      r.connected + r.buffers + r.framebuffers === 0 && inner.resources().framebuffers === 0,
      `after the failing-output guest: ${JSON.stringify(r)}`,
    );
  } finally {
    await backend?.close();
    process.off('uncaughtException', onUncaught);
    await inner.close();
    await host.close();
  }
}

export async function faultCampaign(o: FaultCampaignOptions): Promise<CampaignResult> {
  const res = new CampaignResult('faults');
  const w = await startWorld();
  try {
    await crashCases(w, o, res);
    await destroyWhileMapped(w, res);
    await daemonKills(w, o, res);
    res.check(!w.daemon.died, `the daemon died: ${JSON.stringify(w.daemon.exit)}\n${w.daemon.log.slice(-2000)}`);
  } finally {
    await w.close();
  }
  await xenstoredOutages(o, res);
  await failingOutput(res);
  return res;
}
