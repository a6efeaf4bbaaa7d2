// Where a backend's memory and CPU go: vdispld serving N guests x 4 connectors flipping at 60 frames/s,
// the Node ring floor serving the same (bench/floor/ring-floor-node.ts: Node, the addon and the
// simulated platform, no daemon logic), and bare node loading the addon and idling. For each, at
// the end of its run: the kernel's view (/proc: RSS by kind and by mapping) and V8's
// (process.memoryUsage(), heap spaces, code), read in the process by a probe module loaded with
// --import that answers SIGUSR2; the backend's own code is not changed. With --perf, `perf record`
// samples each backend's CPU while the guests flip (on-CPU time only: V8's own profiler samples
// the wall clock, and on a loaded machine a doorbell write that wakes a guest and is preempted by
// it reads there as the daemon's time), JavaScript frames named through --perf-basic-prof.
//
//   node --import tsx bench/anatomy.ts [--guests 16] [--seconds 6] [--daemon-js PATH] [--snapshot] [--perf DIR]
//                                      [--also-node-args=FLAGS]
//
// --also-node-args adds a second vdispld column, the daemon started with those node flags (V8's heap
// sizing, say: --also-node-args='--max-semi-space-size=1').
// --snapshot also writes a V8 heap snapshot of each process into a directory it names (open one in
// Chrome's DevTools, Memory tab). A benchmark: run it when the machine is otherwise quiet.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDaemon, buildFloors, REPO } from './lib/build.js';
import { track } from './lib/children.js';
import type { BenchContext } from './lib/context.js';
import { Rig } from './lib/rig.js';
import { pipelineMaptrack, pipelineQuota } from './suites/pipeline.js';

const CONNECTORS = 4;
const HZ = 60;

/** The probe: SIGUSR2 writes what V8 and Node say of this process next to the probe file. */
const PROBE = `
import v8 from 'node:v8';
import { existsSync, writeFileSync } from 'node:fs';
const dir = new URL('.', import.meta.url);
process.on('SIGUSR2', () => {
  const at = (f) => new URL(f + '-' + process.pid, dir);
  if (existsSync(new URL('snapshot', dir))) v8.writeHeapSnapshot(at('heap').pathname + '.heapsnapshot');
  const out = {
    usage: process.memoryUsage(),
    spaces: v8.getHeapSpaceStatistics(),
    code: v8.getHeapCodeStatistics(),
    heap: v8.getHeapStatistics(),
    modules: process.moduleLoadList.length,
  };
  writeFileSync(at('mem').pathname + '.json', JSON.stringify(out));
});
`;

interface Probe {
  usage: NodeJS.MemoryUsage;
  spaces: { space_name: string; space_used_size: number; space_size: number; physical_space_size: number }[];
  code: { code_and_metadata_size: number; bytecode_and_metadata_size: number; external_script_source_size: number };
  heap: { total_physical_size: number; malloced_memory: number; peak_malloced_memory: number };
  modules: number;
}

interface Breakdown {
  readonly name: string;
  readonly status: Record<string, number>;
  readonly byMapping: Map<string, number>;
  readonly probe: Probe | undefined;
}

const MiB = (kib: number): string => (kib / 1024).toFixed(1);

/** RSS (KiB) by what is mapped: the node binary, shared libraries, the addon, the heap, anonymous memory, guests' pages. */
function smapsByMapping(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let key = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!;
      key =
        path === ''
          ? 'anonymous (V8 heap, malloc arenas, thread stacks)'
          : path.endsWith('.node')
            ? 'native addon'
            : path.includes('/mem/dom')
              ? "guests' pages (ring, event page, buffers)"
              : path.startsWith('[')
                ? path
                : path.includes('/lib')
                  ? 'shared libraries'
                  : path.endsWith('/node')
                    ? 'node binary'
                    : 'other files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out.set(key, (out.get(key) ?? 0) + Number(rss[1]));
  }
  return out;
}

function statusOf(pid: number): Record<string, number> {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const out: Record<string, number> = {};
  for (const k of ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem'])
    out[k] = Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return out;
}

async function probe(dir: string, pid: number): Promise<Probe | undefined> {
  const file = join(dir, `mem-${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 200));
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Probe;
  } catch {
    return undefined;
  }
}

async function measure(name: string, pid: number, dir: string): Promise<Breakdown> {
  // The probe first: a heap snapshot grows the heap, so /proc is read before it and not after.
  const status = statusOf(pid);
  const byMapping = smapsByMapping(pid);
  return { name, status, byMapping, probe: await probe(dir, pid) };
}

/** `perf record` of `pid` for `seconds`, call graphs included, into `out`; the report beside it. */
async function perfRecord(pid: number, seconds: number, out: string): Promise<void> {
  const rec = track(
    spawn(
      'perf',
      ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', String(pid), '-o', out, '--', 'sleep', String(seconds)],
      {
        stdio: 'ignore',
      },
    ),
  );
  await once(rec, 'exit');
  const rep = track(
    spawn(
      'sh',
      ['-c', `perf report -i '${out}' --no-children --sort dso,symbol --stdio 2>/dev/null | head -120 > '${out}.txt'`],
      {
        stdio: 'ignore',
      },
    ),
  );
  await once(rep, 'exit');
}

async function backendRun(
  ctx: BenchContext,
  kind: 'vdispld' | 'node-floor',
  guests: number,
  seconds: number,
  dir: string,
  perfDir: string | undefined,
  label: string = kind,
): Promise<Breakdown> {
  const ids = (g: number): string[] => Array.from({ length: CONNECTORS }, (_, c) => `m${g}c${c}`);
  const rig = await Rig.start(ctx, {
    name: 'memory',
    backends: [kind === 'vdispld' ? { label: kind, kind } : { label: kind, kind: 'floor', node: true }],
    headless: Array.from({ length: guests }, (_, g) => ids(g).map((id) => `${id}=1920x1080@${HZ}`)).flat(),
    vblankHz: HZ,
    quota: pipelineQuota(guests),
    maptrackEntries: pipelineMaptrack(guests),
  });
  try {
    ctx.log(`${kind}: starting ${guests} guests`);
    const gs = await rig.addGuests(kind, guests, ids);
    for (const g of gs) await g.ask({ cmd: 'prepare' }, 'prepared', 300_000);
    const ms = seconds * 1000;
    ctx.log(`${kind}: ${guests} x ${CONNECTORS} connectors flipping for ${seconds} s`);
    const startEpochMs = Date.now() + 500;
    const running = Promise.all(
      gs.map((g) =>
        g.ask({ cmd: 'pipeline', ms, windowMs: ms, startEpochMs, framePeriodMs: 1000 / HZ }, 'pipeline', ms + 120_000),
      ),
    );
    const pid = rig.backend(kind).pid;
    const recording = perfDir
      ? new Promise((r) => setTimeout(r, 1500)).then(() =>
          perfRecord(pid, seconds - 3, join(perfDir, `${label.replace(/[^\w.-]+/g, '_')}.data`)),
        )
      : Promise.resolve();
    // Measured while the guests still flip: the heap as it is under load, not after it.
    await new Promise((r) => setTimeout(r, 500 + ms - 1000));
    await recording;
    const b = await measure(`${label} (${guests} x ${CONNECTORS} at ${HZ} Hz)`, pid, dir);
    await running;
    return b;
  } finally {
    await rig.close();
  }
}

async function bareNode(probeUrl: string, dir: string): Promise<Breakdown> {
  const addon = join(REPO, 'build', 'Release', 'vdispl_native.node');
  const child = track(
    spawn(
      process.execPath,
      ['--import', probeUrl, '-e', `require(${JSON.stringify(addon)}); setInterval(() => {}, 1000)`],
      { stdio: 'ignore' },
    ),
  );
  await new Promise((r) => setTimeout(r, 1500));
  const b = await measure('bare node (addon loaded, idle)', child.pid!, dir);
  child.kill();
  await once(child, 'exit');
  return b;
}

function report(rows: readonly Breakdown[]): string {
  const cols = rows.map((r) => r.name);
  const lines = [`| | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  const row = (label: string, f: (b: Breakdown) => string): void => {
    lines.push(`| ${label} | ${rows.map(f).join(' | ')} |`);
  };
  const mib = (bytes: number | undefined): string => (bytes === undefined ? '—' : (bytes / 2 ** 20).toFixed(1));
  row('RSS (VmRSS), MiB', (b) => MiB(b.status['VmRSS']!));
  row('peak RSS (VmHWM), MiB', (b) => MiB(b.status['VmHWM']!));
  row('anonymous (RssAnon), MiB', (b) => MiB(b.status['RssAnon']!));
  row('file-backed (RssFile), MiB', (b) => MiB(b.status['RssFile']!));
  row('shared memory (RssShmem), MiB', (b) => MiB(b.status['RssShmem']!));
  const keys = [...new Set(rows.flatMap((r) => [...r.byMapping.keys()]))].sort();
  for (const k of keys) row(`RSS in ${k}, MiB`, (b) => MiB(b.byMapping.get(k) ?? 0));
  row('V8 heap used, MiB', (b) => mib(b.probe?.usage.heapUsed));
  row('V8 heap committed (heapTotal), MiB', (b) => mib(b.probe?.usage.heapTotal));
  row('V8 heap resident (total_physical_size), MiB', (b) => mib(b.probe?.heap.total_physical_size));
  const spaces = [...new Set(rows.flatMap((r) => r.probe?.spaces.map((s) => s.space_name) ?? []))];
  for (const s of spaces)
    row(`  ${s}: used / resident, MiB`, (b) => {
      const x = b.probe?.spaces.find((y) => y.space_name === s);
      return x ? `${mib(x.space_used_size)} / ${mib(x.physical_space_size)}` : '—';
    });
  row('code and metadata, MiB', (b) => mib(b.probe?.code.code_and_metadata_size));
  row('bytecode, MiB', (b) => mib(b.probe?.code.bytecode_and_metadata_size));
  row('external (ArrayBuffers and other off-heap), MiB', (b) => mib(b.probe?.usage.external));
  row('  of it ArrayBuffers, MiB', (b) => mib(b.probe?.usage.arrayBuffers));
  row('V8 malloced, MiB', (b) => mib(b.probe?.heap.malloced_memory));
  row('native modules loaded (moduleLoadList)', (b) => String(b.probe?.modules ?? '—'));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      guests: { type: 'string' },
      seconds: { type: 'string' },
      'daemon-js': { type: 'string' },
      snapshot: { type: 'boolean', default: false },
      perf: { type: 'string' },
      'also-node-args': { type: 'string' },
    },
    strict: true,
  });
  const guests = Number(values.guests ?? 16);
  const perfDir = values.perf ? resolve(values.perf) : undefined;
  if (perfDir) mkdirSync(perfDir, { recursive: true });
  const seconds = Number(values.seconds ?? 6);
  const log = (l: string): void => void process.stderr.write(`anatomy: ${l}\n`);
  const workDir = mkdtempSync(join(tmpdir(), 'vdispld-anatomy-'));
  const probeDir = mkdtempSync(join(tmpdir(), 'vdispld-memprobe-'));
  try {
    const probeFile = join(probeDir, 'probe.mjs');
    writeFileSync(probeFile, PROBE);
    if (values.snapshot) writeFileSync(join(probeDir, 'snapshot'), '');
    const probeUrl = pathToFileURL(probeFile).href;
    const load0 = loadavg()[0]!;
    const [floors, daemonJs] = await Promise.all([
      buildFloors(workDir),
      values['daemon-js'] ? Promise.resolve(values['daemon-js']) : buildDaemon(workDir),
    ]);
    const ctx: BenchContext = {
      opts: {
        rounds: 1,
        pipelineGuests: guests,
        pipelineSeconds: seconds,
        scaleGuests: [],
        rttSamples: { dbufCreate: 0, fbAttach: 0, pgFlip: 0 },
        throughputSeconds: 0,
      },
      daemonJs,
      floors,
      workDir,
      log,
      daemonNodeArgs: () => [
        '--import',
        probeUrl,
        ...(perfDir ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(perfDir, 'v8.log')}`] : []),
      ],
    };
    const also = (values['also-node-args'] ?? '').split(/\s+/).filter((a) => a !== '');
    const rows = [
      await backendRun(ctx, 'vdispld', guests, seconds, probeDir, perfDir),
      ...(also.length > 0
        ? [
            await backendRun(
              { ...ctx, daemonNodeArgs: (n) => [...ctx.daemonNodeArgs(n), ...also] },
              'vdispld',
              guests,
              seconds,
              probeDir,
              perfDir,
              `vdispld ${also.join(' ')}`,
            ),
          ]
        : []),
      await backendRun(ctx, 'node-floor', guests, seconds, probeDir, perfDir),
      await bareNode(probeUrl, probeDir),
    ];
    process.stdout.write(
      `Memory at ${guests} x ${CONNECTORS} connectors, ${new Date().toISOString()}, load ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}\n\n` +
        `${report(rows)}\n`,
    );
    if (values.snapshot) log(`heap snapshots in ${probeDir}`);
    if (perfDir) log(`perf data and reports (*.data.txt) in ${perfDir}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    if (!values.snapshot) rmSync(probeDir, { recursive: true, force: true });
  }
}

await main();
