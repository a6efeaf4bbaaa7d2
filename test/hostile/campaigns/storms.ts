// Release storms: a guest with four connectors at the largest size the Linux frontend allows
// (4095x2047) puts one framebuffer on all four (SET_CONFIG) and takes it away again, as fast as it
// is answered: by FB_DETACH (the detach storm), then by DBUF_DESTROY with the framebuffer still
// attached (the destroy storm). Each release reaches every output that shows the picture; an
// output that turned the whole frame into pixels there held the daemon's event loop for hundreds
// of milliseconds per request. Meanwhile a good guest flips at 60 frames/s. Pass: its flip
// intervals stay under two frame periods and the daemon's event loop is never held longer than
// that during the storms (except where the machine itself stood still: probe/canary.ts), every
// storm request is answered, nothing is left afterwards.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScriptStep, StepResult } from '../../../src/sim/frontend/protocol.js';
import type { SimGuest } from '../../../src/sim/host.js';
import { DAEMON_LAG_FILE } from '../lib/daemon-process.js';
import { flipFigures, type FrameReport } from '../lib/guests.js';
import { MachineCanary, machineShare, type Stall } from '../lib/machine-canary.js';
import { CampaignResult } from '../lib/result.js';
import { sleep, startWorld, until, type World } from '../lib/world.js';
import { readLag, showLag, type LoopLagSummary } from '../probe/loop-lag.js';
import { closing, goodGuest, judgeGoodGuest, type GoodGuest } from './common.js';

export interface StormCampaignOptions {
  /** Length of each storm (detach, then destroy). */
  readonly seconds: number;
  /** Connector size of the storming guest. */
  readonly width: number;
  readonly height: number;
  /** Keep the daemon's loop-lag windows and CPU profile here. */
  readonly probeDir?: string;
}

export const STORMS_FULL: StormCampaignOptions = { seconds: 60, width: 4095, height: 2047 };
export const STORMS_SHORT: StormCampaignOptions = { seconds: 5, width: 4095, height: 2047 };

/** The good guest's refresh: 60 frames/s. Its flips must come at most two periods apart. */
const FRAME_PERIOD_MS = 1000 / 60;
const MAX_INTERVAL_MS = 2 * FRAME_PERIOD_MS;
const CONNECTORS = 4;
/** Stalls of the daemon and of this process are kept with their time from this length up. */
const RECORD_STALLS_MS = 5;

export async function stormCampaign(o: StormCampaignOptions): Promise<CampaignResult> {
  const res = new CampaignResult('storms');
  // The daemon's loop is always measured; with --probe DIR its CPU profile is kept there too.
  if (o.probeDir !== undefined) mkdirSync(o.probeDir, { recursive: true });
  const probeDir = o.probeDir ?? mkdtempSync(join(tmpdir(), 'vdispld-storms-'));
  const w = await startWorld({ probeDir, cpuProfile: o.probeDir !== undefined, recordStallsFromMs: RECORD_STALLS_MS });
  const canary = await MachineCanary.start();
  try {
    const good = await goodGuest(w);
    const size = `${o.width}x${o.height}`;
    const attacker = await w.host.createDomain({
      name: 'stormer',
      ramMiB: 512,
      vdispl: [`connectors=${Array.from({ length: CONNECTORS }, (_, i) => `storm${i}:${size}`).join(';')}`],
      frontend: { kind: 'idle' },
      verbose: false,
    });
    await attacker.waitFor((r) => r.kind === 'connected', { timeoutMs: 30_000 });
    res.set('storming guest', `${CONNECTORS} connectors of ${size}, one framebuffer shown on all of them`);
    await markWindow(w, probeDir, 1); // start-up is not the storms'
    const from = good.guest.reports.length;
    const t0 = Date.now();
    const detach = await storm(attacker, o, 'detach');
    const detachLag = await markWindow(w, probeDir, 2);
    const destroy = await storm(attacker, o, 'destroy');
    const seconds = (Date.now() - t0) / 1000;
    const destroyLag = await markWindow(w, probeDir, 3);
    const lag = detachLag && destroyLag ? mergeLag(detachLag, destroyLag) : undefined;
    res.set('daemon loop max ms: detach storm / destroy storm', `${detachLag?.maxMs} / ${destroyLag?.maxMs}`);
    for (const [name, s] of [
      ['detach', detach],
      ['destroy', destroy],
    ] as const) {
      res.set(`${name} storm: rounds / requests / refused`, `${s.rounds} / ${s.requests} / ${s.refused}`);
      res.set(`${name} storm: statuses`, JSON.stringify(s.statuses));
      res.check(s.rounds >= 2, `the ${name} storm made only ${s.rounds} rounds`);
      res.check(s.timeouts === 0, `${s.timeouts} ${name} storm requests unanswered (-110)`);
    }
    judgeStorms(
      res,
      good,
      from,
      seconds,
      lag,
      await canary.stalls(),
      w.lag.summary().longest.map(([at, ms]) => [at, ms] as const),
    );
    await closing(w, res, [attacker, good.guest]);
  } finally {
    await canary.close();
    await w.close();
    if (o.probeDir === undefined) rmSync(probeDir, { recursive: true, force: true });
  }
  return res;
}

/**
 * The criteria, each against two frame periods. The daemon's event loop: the CPU time the daemon
 * used during each stall (all its threads, at most the stall; where unknown, the stall less the
 * machine canary's stall at the same time) — the work a guest made it do. The good guest's flip
 * intervals: less the guest's own wait for a CPU and the time during the interval that the
 * machine (the canary), the simulated Xen (this process, which relays every flip) or the daemon
 * stood still — what is left is delay no stalled process explains (a flip held back by the
 * daemon's logic), and counts from two frame periods plus one: stalls shorter than the 5 ms the
 * probes record go unexplained, and one of them can cost a whole vblank. On a shared, loaded machine every process is descheduled now and then; that is
 * not a guest's attack, and the daemon's own work in a stall is judged by the first criterion.
 */
function judgeStorms(
  res: CampaignResult,
  good: GoodGuest,
  from: number,
  seconds: number,
  lag: LoopLagSummary | undefined,
  machine: readonly Stall[],
  simulator: readonly Stall[],
): void {
  const limit = MAX_INTERVAL_MS.toFixed(1);
  const show = (at: number, ms: number): string => `${new Date(at).toISOString().slice(11, 23)}:${Math.round(ms)}`;
  res.set(
    'machine stalls (canary) over half a frame period, longest ms',
    `${machine.filter(([, ms]) => ms >= MAX_INTERVAL_MS / 2).length}, ${Math.max(0, ...machine.map(([, ms]) => ms))}`,
  );
  // The daemon: its own share of each stall.
  const daemonStalls = (lag?.longest ?? []).map(([at, ms, cpu]) => ({
    at,
    ms,
    own: cpu ?? ms - machineShare(machine, at, ms),
  }));
  if (lag) {
    res.set('daemon loop during the storms', showLag(lag));
    const over = daemonStalls.filter((d) => d.ms >= MAX_INTERVAL_MS);
    const mine = over.filter((d) => d.own >= MAX_INTERVAL_MS);
    const worstOwn = Math.max(0, ...daemonStalls.map((d) => d.own));
    res.set(
      'daemon loop stalls over the limit: all / its own (time:ms)',
      `${over.length} / ${mine.length}: ${mine
        .slice(0, 10)
        .map((d) => show(d.at, d.own))
        .join(' ')}`,
    );
    res.set("daemon's own worst stall (CPU it used meanwhile), ms", Math.round(worstOwn));
    res.check(
      mine.length === 0,
      `the daemon's event loop was held by its own work over two frame periods (${limit} ms) ${mine.length} times, the longest ${Math.round(worstOwn)} ms`,
    );
  } else res.check(false, "the daemon's loop-lag window was not written");
  // The good guest.
  const f = flipFigures(good.guest.reports, MAX_INTERVAL_MS, from);
  res.set(
    'good guest flip interval during the storms, p99 / max ms',
    `${f.p99IntervalMs} / ${f.maxIntervalMs} (limit ${limit})`,
  );
  const idle: Stall[] = [
    ...machine,
    ...simulator,
    // Every daemon stall: one of its own work fails the criterion above already.
    ...daemonStalls.map((d) => [d.at, d.ms] as const),
  ];
  const frames = good.guest.reports
    .slice(from)
    .filter((r): r is FrameReport => r.kind === 'frame' && (r.intervalMs ?? 0) >= MAX_INTERVAL_MS);
  const unexplained = frames
    .map((r) => ({
      at: r.at ?? 0,
      ms: r.intervalMs!,
      left: r.intervalMs! - (r.waitMs ?? 0) - (r.at === undefined ? 0 : machineShare(idle, r.at, r.intervalMs!)),
    }))
    .filter((r) => r.left >= MAX_INTERVAL_MS + FRAME_PERIOD_MS);
  res.set(
    'good guest flip intervals over the limit: all / not explained by a stalled process (time:ms)',
    `${frames.length} / ${unexplained.length}: ${unexplained
      .slice(0, 10)
      .map((r) => show(r.at, r.ms))
      .join(' ')}`,
  );
  // The guest's own process is not probed (its garbage collector, its IPC): one such interval in
  // 200 is allowed. Before the fix it was one in 20, each over a second.
  const allowed = Math.max(1, Math.floor(f.frames / 200));
  res.check(
    unexplained.length <= allowed,
    `${unexplained.length} (allowed ${allowed}) good-guest flip intervals over two frame periods (${limit} ms) not explained by a stalled process, the worst ${Math.round(Math.max(...unexplained.map((r) => r.ms)))} ms`,
  );
  judgeGoodGuest(res, good, seconds, 'good guest (storms)');
}

/** Two windows' figures as one: percentiles of the worse, maximum and stalls of both. */
function mergeLag(a: LoopLagSummary, b: LoopLagSummary): LoopLagSummary {
  const worse = a.p99Ms >= b.p99Ms ? a : b;
  return {
    ...worse,
    seconds: a.seconds + b.seconds,
    maxMs: Math.max(a.maxMs, b.maxMs),
    stallsOver: Object.fromEntries(
      Object.keys(a.stallsOver).map((k) => [k, (a.stallsOver[k] ?? 0) + (b.stallsOver[k] ?? 0)]),
    ),
    longest: [...a.longest, ...b.longest].sort((x, y) => y[1] - x[1]),
  };
}

/** Ends the daemon's current loop-lag window (the probe's SIGUSR2) and reads it. */
async function markWindow(w: World, dir: string, n: number): Promise<LoopLagSummary | undefined> {
  w.daemon.child.kill('SIGUSR2');
  const file = join(dir, `${DAEMON_LAG_FILE}.${n}`);
  return until(`the daemon's loop-lag window ${n}`, () => readLag(file), 10_000).catch(() => undefined);
}

interface StormFigures {
  rounds: number;
  requests: number;
  refused: number;
  timeouts: number;
  statuses: Record<string, number>;
}

/**
 * One storm: rounds of framebuffer on, shown on every connector, taken away, for `o.seconds`.
 * 'detach' keeps one buffer and removes the framebuffer (FB_DETACH); 'destroy' makes a new buffer
 * each round and destroys it under its framebuffer (DBUF_DESTROY), as far as the page rate lets it.
 */
async function storm(g: SimGuest, o: StormCampaignOptions, kind: 'detach' | 'destroy'): Promise<StormFigures> {
  const fig: StormFigures = { rounds: 0, requests: 0, refused: 0, timeouts: 0, statuses: {} };
  const create: ScriptStep = { op: 'dumb-create', name: 'b', width: o.width, height: o.height, bpp: 32 };
  const show: ScriptStep[] = [
    { op: 'add-fb', name: 'f', buffer: 'b', width: o.width, height: o.height, format: 'XRGB8888' },
    ...Array.from({ length: CONNECTORS }, (_, conn): ScriptStep => ({ op: 'enable', conn, fb: 'f' })),
  ];
  const count = (rs: readonly StepResult[]): void => {
    for (const r of rs) {
      if (r.op === 'draw' || r.op === 'sleep') continue;
      fig.requests++;
      fig.statuses[r.status] = (fig.statuses[r.status] ?? 0) + 1;
      if (r.status === -110) fig.timeouts++;
      else if (r.status !== 0) fig.refused++;
    }
  };
  const end = Date.now() + o.seconds * 1000;
  if (kind === 'detach') count(await g.run([create]));
  while (Date.now() < end) {
    const round: ScriptStep[] =
      kind === 'detach' ? [...show, { op: 'rm-fb', fb: 'f' }] : [create, ...show, { op: 'gem-close', buffer: 'b' }];
    const rs = await g.run(round, { timeoutMs: 30_000 });
    count(rs);
    // A refused creation (the page rate) ends the round early: wait a little, as a frontend would.
    if (kind === 'destroy' && rs[0]?.status !== 0) await sleep(50);
    else fig.rounds++;
  }
  count(
    await g.run([
      ...Array.from({ length: CONNECTORS }, (_, conn): ScriptStep => ({ op: 'disable', conn })),
      ...(kind === 'detach' ? [{ op: 'gem-close', buffer: 'b' } as const] : []),
    ]),
  );
  return fig;
}
