// Before/after: two vdispld builds measured in the same run, on one simulated host, each serving
// its own guests (the base build in dom0, the head build in a driver domain), rounds alternating
// which goes first. On a shared, noisy machine this is the only comparison worth making: two
// runs an hour apart measure the neighbours as much as the code.
//
//   node --import tsx bench/compare.ts --base REV|MAIN_JS [--head REV|MAIN_JS] [--rounds N] [--profile DIR]
//                                      [--sections rtt,load,startup] [--base-node-args=FLAGS] [--head-node-args=FLAGS]
//                                      [--load-guests N]
//
// REV is any git revision (built from `git archive`, the working tree untouched); the head
// defaults to the working tree. Figures: request round trips (one in flight), throughput and
// backend CPU per request (PG_FLIP back to back), backend CPU per flip at 60 frames/s and the
// backend's RSS after it, and start-up to READY=1 on a host without guests. Both builds load the
// working tree's addon (build/Release), so a head that adds native calls runs against a base
// that ignores them. `--base-node-args`/`--head-node-args` give one side's daemon node flags of its
// own (V8's heap sizing, say): with the same build on both sides, that compares the flags alone.
// Flags start with a dash, so give them with '=': --head-node-args='--max-semi-space-size=1'.
// `--load-guests N` gives each build N guests x 4 connectors in the load section (default 2; 16 is
// the pipeline's size, where V8's young generation grows and heap flags show their cost).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SimHost } from '../src/sim/index.js';
import { startDaemon } from './lib/backends.js';
import { buildDaemon, buildFloors, buildRevision } from './lib/build.js';
import { removeOnExit } from './lib/children.js';
import type { BenchContext } from './lib/context.js';
import { figure, type Figure } from './lib/figures.js';
import type { BenchGuest } from './lib/guests.js';
import { sampleProc } from './lib/proc.js';
import { NotifySocket } from './lib/notify.js';
import { Rig } from './lib/rig.js';
import { pipelineQuota } from './suites/pipeline.js';
import { RTT_QUOTA } from './suites/round-trip.js';
import { percentile } from './lib/stats.js';
import { table } from './lib/table.js';

const HZ = 60;
const RTT_HZ = 360;
const SIDES = ['base', 'head'] as const;
type Side = (typeof SIDES)[number];

async function daemonFor(workDir: string, what: string | undefined): Promise<{ js: string; name: string }> {
  if (what === undefined) return { js: await buildDaemon(workDir, undefined, 'vdispld-head'), name: 'working tree' };
  if (what.endsWith('.js') && existsSync(what)) return { js: resolve(what), name: what };
  return { js: await buildRevision(workDir, what), name: what };
}

function order(round: number): readonly Side[] {
  return round % 2 === 0 ? SIDES : [...SIDES].reverse();
}

type Runs = Map<string, { base: number[]; head: number[] }>;

function push(runs: Runs, key: string, side: Side, v: number): void {
  let r = runs.get(key);
  if (!r) runs.set(key, (r = { base: [], head: [] }));
  r[side].push(v);
}

async function cpuOver(pid: number, work: () => Promise<number>): Promise<{ count: number; cpuUs: number }> {
  const a = sampleProc(pid);
  const count = await work();
  const b = sampleProc(pid);
  return { count, cpuUs: a && b ? (b.cpuMs - a.cpuMs) * 1000 : NaN };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      head: { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'string' },
      sections: { type: 'string' },
      'base-node-args': { type: 'string' },
      'head-node-args': { type: 'string' },
      'load-guests': { type: 'string' },
    },
    strict: true,
  });
  const sections = new Set((values.sections ?? 'rtt,load,startup').split(',').map((x) => x.trim()));
  for (const x of sections)
    if (!['rtt', 'load', 'startup'].includes(x)) {
      process.stderr.write(`compare: unknown section ${JSON.stringify(x)} (rtt, load, startup)\n`);
      process.exit(2);
    }
  if (!values.base) {
    process.stderr.write('usage: compare --base REV|MAIN_JS [--head REV|MAIN_JS] [--rounds N] [--profile DIR]\n');
    process.exit(2);
  }
  const rounds = Number(values.rounds ?? 5);
  const loadGuests = Number(values['load-guests'] ?? 2);
  if (!Number.isInteger(loadGuests) || loadGuests < 1) {
    process.stderr.write(`compare: --load-guests ${values['load-guests']}: a whole number of guests, 1 or more\n`);
    process.exit(2);
  }
  const log = (l: string): void => void process.stderr.write(`compare: ${l}\n`);
  const workDir = mkdtempSync(join(tmpdir(), 'vdispld-compare-'));
  try {
    log(`building base (${values.base}) and head (${values.head ?? 'working tree'}) in ${workDir}`);
    const [floors, base, head] = await Promise.all([
      buildFloors(workDir),
      daemonFor(workDir, values.base),
      daemonFor(workDir, values.head),
    ]);
    const profileDir = values.profile ? resolve(values.profile) : undefined;
    const sideArgs: Record<Side, string[]> = {
      base: (values['base-node-args'] ?? '').split(/\s+/).filter((a) => a !== ''),
      head: (values['head-node-args'] ?? '').split(/\s+/).filter((a) => a !== ''),
    };
    // The rig names each daemon `<rig>-<side>`; start-up names them by side alone.
    const sideOf = (name: string): Side => (name.endsWith('head') ? 'head' : 'base');
    if (sideArgs.base.length + sideArgs.head.length > 0)
      log(`node flags: base ${sideArgs.base.join(' ') || '(none)'}; head ${sideArgs.head.join(' ') || '(none)'}`);
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const ctx: BenchContext = {
      opts: {
        rounds,
        pipelineGuests: 4,
        pipelineSeconds: 4,
        scaleGuests: [],
        rttSamples: { dbufCreate: 20, fbAttach: 200, pgFlip: 200 },
        throughputSeconds: 2,
      },
      daemonJs: head.js,
      floors,
      workDir,
      log,
      daemonNodeArgs: (name) => [
        ...sideArgs[sideOf(name)],
        ...(profileDir
          ? [
              '--cpu-prof',
              '--cpu-prof-interval',
              '250',
              '--cpu-prof-dir',
              profileDir,
              '--cpu-prof-name',
              `${name}.cpuprofile`,
            ]
          : []),
      ],
    };
    const js = { base: base.js, head: head.js };
    const runs: Runs = new Map();

    // Round trips, one request in flight.
    if (sections.has('rtt')) {
      const rig = await Rig.start(ctx, {
        name: 'compare-rtt',
        backends: SIDES.map((s) => ({ label: s, kind: 'vdispld' as const, mainJs: js[s], driverDomain: s === 'head' })),
        headless: [`rtt0=1920x1080@${RTT_HZ}`],
        vblankHz: RTT_HZ,
        quota: RTT_QUOTA,
      });
      try {
        const g: Record<Side, BenchGuest> = {
          base: (await rig.addGuests('base', 1, () => ['rtt0']))[0]!,
          head: (await rig.addGuests('head', 1, () => ['rtt0']))[0]!,
        };
        for (let r = 0; r < rounds; r++) {
          for (const s of order(r)) {
            const rep = await g[s].ask(
              { cmd: 'rtt', plan: { ...ctx.opts.rttSamples, width: 1920, height: 1080 } },
              'rtt',
              300_000,
            );
            for (const op of ['pgFlip', 'fbAttach', 'dbufCreate'] as const) {
              push(runs, `rtt.${op}.p50`, s, percentile(rep.us[op], 50));
              push(runs, `rtt.${op}.p99`, s, percentile(rep.us[op], 99));
            }
          }
          log(`round trips ${r + 1}/${rounds}`);
        }
      } finally {
        await rig.close();
      }
    }

    // Throughput and flips at 60 frames/s: loadGuests guests x 4 connectors per build.
    if (sections.has('load')) {
      const ids = (s: Side, g: number): string[] => [0, 1, 2, 3].map((c) => `${s}${g}c${c}`);
      const guestIndexes = Array.from({ length: loadGuests }, (_, i) => i);
      const headless = SIDES.flatMap((s) =>
        guestIndexes.flatMap((g) => ids(s, g).map((id) => `${id}=1920x1080@${HZ}`)),
      );
      const rig = await Rig.start(ctx, {
        name: 'compare-load',
        backends: SIDES.map((s) => ({ label: s, kind: 'vdispld' as const, mainJs: js[s], driverDomain: s === 'head' })),
        headless,
        vblankHz: HZ,
        // The dom0-wide budget for that many guests, as the pipeline suite gives it (the default is four).
        quota: pipelineQuota(loadGuests),
      });
      try {
        const g: Record<Side, BenchGuest[]> = {
          base: await rig.addGuests('base', loadGuests, (i) => ids('base', i)),
          head: await rig.addGuests('head', loadGuests, (i) => ids('head', i)),
        };
        for (const s of SIDES) for (const x of g[s]) await x.ask({ cmd: 'prepare' }, 'prepared', 120_000);
        for (let r = 0; r < rounds; r++) {
          for (const s of order(r)) {
            const pid = rig.backend(s).pid;
            const t = await cpuOver(pid, async () => {
              const reps = await Promise.all(
                g[s].map((x) => x.ask({ cmd: 'throughput', ms: 2000 }, 'throughput', 60_000)),
              );
              push(
                runs,
                'throughput.rps',
                s,
                reps.reduce((n, x) => n + x.requests / (x.elapsedMs / 1000), 0),
              );
              return reps.reduce((n, x) => n + x.requests, 0);
            });
            push(runs, 'throughput.cpu', s, t.cpuUs / t.count);
            const f = await cpuOver(pid, async () => {
              const startEpochMs = Date.now() + 300;
              const reps = await Promise.all(
                g[s].map((x) =>
                  x.ask(
                    { cmd: 'pipeline', ms: 3000, windowMs: 3000, startEpochMs, framePeriodMs: 1000 / HZ },
                    'pipeline',
                    60_000,
                  ),
                ),
              );
              push(
                runs,
                'flips.late',
                s,
                reps.reduce((n, x) => n + (x.windows[0]?.late ?? 0), 0),
              );
              return reps.reduce((n, x) => n + (x.windows[0]?.flips ?? 0), 0);
            });
            push(runs, 'flips.cpu', s, f.cpuUs / Math.max(1, f.count));
            push(runs, 'rss', s, (sampleProc(pid)?.rssKiB ?? NaN) / 1024);
          }
          log(
            `load ${r + 1}/${rounds}: CPU per request ${runs.get('throughput.cpu')!.base.at(-1)!.toFixed(1)} -> ${runs.get('throughput.cpu')!.head.at(-1)!.toFixed(1)} µs`,
          );
        }
      } finally {
        await rig.close();
      }
    }

    // Start-up: spawn to READY=1, no guests, the two builds alternating (one untimed start each first).
    if (sections.has('startup')) {
      const host = await SimHost.start();
      const forgetDir = removeOnExit(host.dir);
      const notify = new NotifySocket();
      try {
        for (let r = 0; r <= rounds; r++) {
          for (const s of order(r)) {
            const b = await startDaemon({
              mainJs: js[s],
              host,
              notify,
              headless: [],
              controlSocket: join(host.dir, `control-${s}.sock`),
              nodeArgs: sideArgs[s],
            });
            await b.stop();
            if (r > 0) push(runs, 'startup.ready', s, b.readyMs);
          }
          if (r > 0) log(`start-up ${r}/${rounds}`);
        }
      } finally {
        await host.close();
        forgetDir();
        notify.close();
      }
    }

    const load = `Load (${loadGuests} guests x 4 connectors per build)`;
    const what: Record<string, [string, string, string]> = {
      'rtt.pgFlip.p50': ['Round trip', 'PG_FLIP p50', 'µs'],
      'rtt.pgFlip.p99': ['Round trip', 'PG_FLIP p99', 'µs'],
      'rtt.fbAttach.p50': ['Round trip', 'FB_ATTACH p50', 'µs'],
      'rtt.fbAttach.p99': ['Round trip', 'FB_ATTACH p99', 'µs'],
      'rtt.dbufCreate.p50': ['Round trip', 'DBUF_CREATE 1920x1080 p50', 'µs'],
      'rtt.dbufCreate.p99': ['Round trip', 'DBUF_CREATE 1920x1080 p99', 'µs'],
      'throughput.rps': [load, 'requests per second, PG_FLIP back to back', 'req/s'],
      'throughput.cpu': [load, 'backend CPU per request', 'µs'],
      'flips.cpu': [load, 'backend CPU per flip at 60 frames/s', 'µs'],
      'flips.late': [load, 'late flip events in 3 s', 'events'],
      rss: [load, 'backend RSS after each round', 'MiB'],
      'startup.ready': ['Start-up', 'process start to READY=1 (no guests)', 'ms'],
    };
    const figures: Figure[] = [];
    for (const [key, [section, label, unit]] of Object.entries(what)) {
      const r = runs.get(key);
      if (r)
        figures.push(
          figure({
            id: key,
            section,
            what: label,
            unit,
            vdispld: r.head,
            floorName: `base ${base.name}`,
            floor: r.base,
          }),
        );
    }
    process.stdout.write(
      `head: ${head.name}; base: ${base.name}; ratio = head / base, per round\n\n${table(figures, { a: 'head', b: 'base' })}\n`,
    );
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
