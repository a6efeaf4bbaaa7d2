// `npm run bench`: every figure of issue 10, each with its median and spread over repeated runs,
// each next to a floor measured in the same run (a C program on the same simulated transport, or
// memcpy), printed as a table on stdout and written as JSON. Progress goes to stderr.
//
//   npm run bench                          the default suite, a few minutes
//   npm run bench -- --full                the flip pipeline at 64 guests x 4 connectors for 60 s
//   npm run bench -- --only scale          the pipeline at 16, 64 and 256 connectors (--scale 4,16,64 guests)
//   npm run bench -- --only round-trip,copy
//   npm run bench -- --profile DIR         V8 CPU profiles of every vdispld process (--cpu-prof)
//   npm run bench -- --out FILE            JSON path (default bench/results/last-run.json)
//   npm run bench -- --daemon-js PATH      benchmark an already built main.js instead of building
//
// Benchmarks never assert: a missed target is reported, and the exit status stays 0.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDaemon, buildFloors, REPO } from './lib/build.js';
import type { BenchContext, BenchOptions } from './lib/context.js';
import type { Figure } from './lib/figures.js';
import { table } from './lib/table.js';
import { composeSuite } from './suites/compose.js';
import { copyPathSuite } from './suites/copy-path.js';
import { pipelineSuite } from './suites/pipeline.js';
import { scaleSuite } from './suites/scale.js';
import { roundTripSuite } from './suites/round-trip.js';
import { startupSuite } from './suites/startup.js';
import { throughputSuite } from './suites/throughput.js';
import { waylandPathSuite } from './suites/wayland-path.js';
import { xenstoreSuite } from './suites/xenstore.js';

const SUITES: Record<string, (ctx: BenchContext) => Promise<Figure[]>> = {
  'round-trip': roundTripSuite,
  throughput: throughputSuite,
  pipeline: pipelineSuite,
  copy: copyPathSuite,
  startup: startupSuite,
  xenstore: xenstoreSuite,
  wayland: waylandPathSuite,
  compose: composeSuite,
  scale: scaleSuite,
};
/** What `npm run bench` runs without --only: the scale suite sets up 84 guests and runs on request. */
const DEFAULT_SUITES = Object.keys(SUITES).filter((s) => s !== 'scale');

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\nsuites: ${Object.keys(SUITES).join(', ')}\n`);
  process.exit(2);
}

function intOption(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} takes an integer in ${min}..${max}`);
  return n;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      'daemon-js': { type: 'string' },
      'pipeline-guests': { type: 'string' },
      'pipeline-seconds': { type: 'string' },
      scale: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'npm run bench -- [--full] [--only SUITE,...] [--rounds N] [--out FILE] [--profile DIR] [--daemon-js PATH]\n' +
        '                 [--pipeline-guests N] [--pipeline-seconds S] [--scale GUESTS,...]\n' +
        `suites: ${Object.keys(SUITES).join(', ')}\n`,
    );
    return;
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : DEFAULT_SUITES;
  for (const s of only) if (!SUITES[s]) usage(`unknown suite ${JSON.stringify(s)}`);
  const opts: BenchOptions = {
    rounds: intOption(values.rounds, 'rounds', 5, 1, 50),
    pipelineGuests: intOption(values['pipeline-guests'], 'pipeline-guests', values.full ? 64 : 16, 1, 64),
    pipelineSeconds: intOption(values['pipeline-seconds'], 'pipeline-seconds', values.full ? 60 : 10, 2, 600),
    // A p99 is the 10th-slowest of 1,000 flips, not the 3rd of 300: one descheduled moment of this
    // shared machine moved the old one by 2-10x between rounds.
    scaleGuests: (values.scale ?? '4,16,64').split(',').map((x) => intOption(x.trim(), 'scale', 0, 1, 64)),
    rttSamples: { dbufCreate: 100, fbAttach: 1000, pgFlip: 1000 },
    throughputSeconds: 2,
    ...(values.profile ? { profileDir: resolve(values.profile) } : {}),
  };
  const outPath = resolve(values.out ?? join(REPO, 'bench', 'results', 'last-run.json'));
  const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

  const workDir = mkdtempSync(join(tmpdir(), 'vdispld-bench-'));
  const cleanup = (): void => rmSync(workDir, { recursive: true, force: true });
  // Interrupted: the children are killed on exit (lib/children.ts), the work directory goes here.
  process.once('exit', cleanup);
  try {
    log(`building the C floors${values['daemon-js'] ? '' : ' and vdispld (tsc)'} in ${workDir}`);
    const [floors, daemonJs] = await Promise.all([
      buildFloors(workDir),
      values['daemon-js'] ? Promise.resolve(resolve(values['daemon-js'])) : buildDaemon(workDir),
    ]);
    if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
    let profiles = 0;
    const ctx: BenchContext = {
      opts,
      daemonJs,
      floors,
      workDir,
      log,
      daemonNodeArgs: (name) =>
        opts.profileDir
          ? [
              '--cpu-prof',
              '--cpu-prof-interval',
              '250',
              '--cpu-prof-dir',
              opts.profileDir,
              '--cpu-prof-name',
              `vdispld-${name}-${++profiles}.cpuprofile`,
            ]
          : [],
    };
    const started = new Date();
    const load = [loadavg()];
    const figures: Figure[] = [];
    for (const name of only) {
      const t0 = Date.now();
      log(`${name}: running`);
      figures.push(...(await SUITES[name]!(ctx)));
      log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    load.push(loadavg());
    const meta = {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      commit: git(['rev-parse', '--short', 'HEAD']),
      dirty: git(['status', '--porcelain', '--', 'src', 'native']) !== '',
      node: process.version,
      cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
      loadAverage: { start: load[0], end: load[1] },
      options: opts,
    };
    const text = table(figures);
    process.stdout.write(
      `vdispld benchmark, ${meta.date}, commit ${meta.commit}${meta.dirty ? ' (+ uncommitted changes)' : ''}, node ${meta.node}, ${meta.cpu}, ` +
        `load ${load[0]![0]!.toFixed(1)} -> ${load[1]![0]!.toFixed(1)}\n\n${text}\n`,
    );
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, `${JSON.stringify({ meta, figures }, null, 1)}\n`);
    log(`JSON written to ${outPath}`);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
