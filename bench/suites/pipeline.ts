// The flip pipeline at scale: N guests x 4 connectors, each a compositor flipping at the
// display's 60 frames/s (the next flip as soon as the last one's event came), for a while. First
// the C floor's run, then the Node floor's, then vdispld's, each on a host of its own (two such
// loads at once would measure the machine, not the backend). The run is cut into windows; each
// window is one run of the figures: late flip events, the backend's CPU share of one core, its RSS.
// The Node floor (bench/floor/ring-floor-node.ts) does the C floor's work in Node through the same
// addon and simulated platform: CPU and RSS against it are vdispld's own, and it against the C
// floor is the runtime's.
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { sampleProc, type ProcSample } from '../lib/proc.js';
import { Rig } from '../lib/rig.js';
import { percentile } from '../lib/stats.js';

const CONNECTORS = 4;
const HZ = 60;
const FRAME_MS = 1000 / HZ;
/** Grant pages of one 1920x1080 XRGB8888 buffer. */
const FHD_PAGES = Math.ceil((1920 * 1080 * 4) / 4096);

/** Grant pages `guests` guests of four double-buffered full-HD connectors have a backend map. */
function pipelinePages(guests: number): number {
  return guests * CONNECTORS * 2 * FHD_PAGES;
}

/**
 * vdispld's dom0-wide budget for that many guests, every guest a whole share, with room to
 * spare: what an operator running that many guests configures. The defaults budget four such
 * guests; past them a guest's share is too small for its buffers.
 */
export function pipelineQuota(guests: number): string {
  return `dom0-pages=${Math.max(131072, 2 * pipelinePages(guests))},dom0-guests=${Math.max(4, guests)}`;
}

/**
 * The simulated Xen's grant-mapping table for the backend's domain: Xen's default (1024 frames
 * of 256 entries) holds 16 such guests; more need gnttab_max_maptrack_frames raised at boot, on
 * the simulated Xen as on a real one. Both backends get the same table.
 */
export function pipelineMaptrack(guests: number): number {
  return Math.max(262144, 2 * pipelinePages(guests));
}

interface SideResult {
  readonly late: number[];
  readonly failed: number[];
  readonly fps: number[];
  readonly cpuShare: number[];
  readonly rssMiB: number[];
  readonly peakRssMiB: number;
  readonly cpuUsPerFlip: number[];
  readonly latencyUs: number[];
  readonly rttUs: number[];
}

export async function runSide(
  ctx: BenchContext,
  side: 'vdispld' | 'floor' | 'node-floor',
  guests: number,
  seconds: number,
): Promise<SideResult> {
  const ids = (g: number): string[] => Array.from({ length: CONNECTORS }, (_, c) => `p${g}c${c}`);
  const headless = Array.from({ length: guests }, (_, g) => ids(g).map((id) => `${id}=1920x1080@${HZ}`)).flat();
  const rig = await Rig.start(ctx, {
    name: 'pipeline',
    backends: [
      side === 'vdispld'
        ? { label: side, kind: 'vdispld' }
        : { label: side, kind: 'floor', node: side === 'node-floor' },
    ],
    headless,
    vblankHz: HZ,
    quota: pipelineQuota(guests),
    maptrackEntries: pipelineMaptrack(guests),
  });
  try {
    ctx.log(`pipeline (${side}): starting ${guests} guests`);
    const gs = await rig.addGuests(side, guests, ids);
    const backend = rig.backend(side);
    // One guest at a time: the floor maps buffers synchronously, and 16 guests' worth of
    // DBUF_CREATEs queued behind each other would run into the driver's 3 s timeout.
    for (const g of gs) await g.ask({ cmd: 'prepare' }, 'prepared', 300_000);
    const windowMs = seconds >= 30 ? 10_000 : 2_000;
    const ms = Math.ceil((seconds * 1000) / windowMs) * windowMs;
    const windows = ms / windowMs;
    // A second of flipping before the first window: everyone is in step when counting starts.
    const startEpochMs = Date.now() + 1000;
    const cpu: { at: number; s: ProcSample | undefined }[] = [];
    const rss: number[] = Array.from({ length: windows }, () => 0);
    const timers: NodeJS.Timeout[] = [];
    for (let k = 0; k <= windows; k++) {
      timers.push(
        setTimeout(
          () => cpu.push({ at: Date.now(), s: sampleProc(backend.pid) }),
          startEpochMs + k * windowMs - Date.now(),
        ),
      );
    }
    const rssTimer = setInterval(() => {
      const w = Math.floor((Date.now() - startEpochMs) / windowMs);
      const s = sampleProc(backend.pid);
      if (s && w >= 0 && w < windows) rss[w] = Math.max(rss[w]!, s.rssKiB / 1024);
    }, 500);
    ctx.log(`pipeline (${side}): ${guests} x ${CONNECTORS} connectors at ${HZ} frames/s for ${ms / 1000} s`);
    const reports = await Promise.all(
      gs.map((g) =>
        g.ask({ cmd: 'pipeline', ms, windowMs, startEpochMs, framePeriodMs: FRAME_MS }, 'pipeline', ms + 120_000),
      ),
    );
    clearInterval(rssTimer);
    for (const t of timers) clearTimeout(t);
    const peak = sampleProc(backend.pid)?.peakRssKiB ?? NaN;
    const errors: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    if (Object.keys(errors).length)
      ctx.log(`pipeline (${side}): requests failed, by status: ${JSON.stringify(errors)}`);
    const late: number[] = [];
    const failed: number[] = [];
    const fps: number[] = [];
    const flips: number[] = [];
    for (let w = 0; w < windows; w++) {
      late.push(reports.reduce((n, r) => n + (r.windows[w]?.late ?? 0), 0));
      failed.push(reports.reduce((n, r) => n + (r.windows[w]?.failed ?? 0), 0));
      const f = reports.reduce((n, r) => n + (r.windows[w]?.flips ?? 0), 0);
      flips.push(f);
      fps.push(f / (guests * CONNECTORS) / (windowMs / 1000));
    }
    const cpuShare: number[] = [];
    const cpuUsPerFlip: number[] = [];
    for (let w = 0; w + 1 < cpu.length && w < windows; w++) {
      const a = cpu[w]!;
      const b = cpu[w + 1]!;
      if (!a.s || !b.s) continue;
      cpuShare.push((b.s.cpuMs - a.s.cpuMs) / (b.at - a.at));
      cpuUsPerFlip.push(((b.s.cpuMs - a.s.cpuMs) * 1000) / Math.max(1, flips[w]!));
    }
    return {
      late,
      failed,
      fps,
      cpuShare,
      rssMiB: rss,
      peakRssMiB: peak / 1024,
      cpuUsPerFlip,
      latencyUs: reports.flatMap((r) => r.latencyUs),
      rttUs: reports.flatMap((r) => r.rttUs),
    };
  } finally {
    await rig.close();
  }
}

export async function pipelineSuite(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.opts.pipelineGuests;
  const s = ctx.opts.pipelineSeconds;
  const floor = await runSide(ctx, 'floor', n, s);
  const nodeFloor = await runSide(ctx, 'node-floor', n, s);
  const vd = await runSide(ctx, 'vdispld', n, s);
  ctx.log(
    `pipeline: vdispld ${vd.late.reduce((a, b) => a + b, 0)} late events, CPU ${(100 * Math.max(...vd.cpuShare)).toFixed(1)} % at most`,
  );
  const section = `Flip pipeline (${n} guests x ${CONNECTORS} connectors at ${HZ} frames/s, ${s} s; runs = windows)`;
  const fl = 'C ring floor';
  const nfl = 'Node ring floor';
  // One figure from one percentile of a sample both sides collected over the whole run.
  const percentileFigure = (id: string, what: string, sample: 'rttUs' | 'latencyUs', p: number): Figure =>
    figure({
      id,
      section,
      what,
      unit: 'µs',
      vdispld: [percentile(vd[sample], p)],
      floorName: fl,
      floor: [percentile(floor[sample], p)],
    });
  return [
    figure({
      id: 'pipeline.late',
      section,
      what: 'late flip events (> 1 frame) per window',
      unit: 'events',
      vdispld: vd.late,
      floorName: fl,
      floor: floor.late,
      target: (f) => ({ text: 'zero late events', met: f.vdispld.max === 0 }),
      note: 'late: an event a vblank later than it should have come (gap > 1.5 frames at the guest)',
    }),
    figure({
      id: 'pipeline.failed',
      section,
      what: 'flips failed or timed out per window',
      unit: 'flips',
      vdispld: vd.failed,
      floorName: fl,
      floor: floor.failed,
    }),
    figure({
      id: 'pipeline.fps',
      section,
      what: 'frames per second per connector',
      unit: 'fps',
      vdispld: vd.fps,
      floorName: fl,
      floor: floor.fps,
    }),
    figure({
      id: 'pipeline.cpu',
      section,
      what: 'backend CPU share of one core',
      unit: '%',
      vdispld: vd.cpuShare.map((x) => 100 * x),
      floorName: fl,
      floor: floor.cpuShare.map((x) => 100 * x),
      target: (f) => ({ text: 'under 30 % of one core', met: f.vdispld.max < 30 }),
    }),
    figure({
      id: 'pipeline.cpu-per-flip',
      section,
      what: 'zero-copy path: backend CPU per flip (headless output)',
      unit: 'µs',
      vdispld: vd.cpuUsPerFlip,
      floorName: fl,
      floor: floor.cpuUsPerFlip,
    }),
    figure({
      id: 'pipeline.rss',
      section,
      what: 'backend RSS (highest sample per window)',
      unit: 'MiB',
      vdispld: vd.rssMiB,
      floorName: fl,
      floor: floor.rssMiB,
      target: (f) => ({
        text: 'under 120 MB (checked on the peak, VmHWM)',
        met: Math.max(f.vdispld.max, vd.peakRssMiB) * 1.048576 < 120,
      }),
      note: `peak RSS over the whole run (VmHWM): vdispld ${vd.peakRssMiB.toFixed(1)} MiB, floor ${floor.peakRssMiB.toFixed(1)} MiB`,
    }),
    // Against the Node floor: what is vdispld's own; and the Node floor against the C floor: Node's.
    figure({
      id: 'pipeline.cpu.node',
      section,
      what: 'backend CPU share of one core, against Node doing the same',
      unit: '%',
      vdispld: vd.cpuShare.map((x) => 100 * x),
      floorName: nfl,
      floor: nodeFloor.cpuShare.map((x) => 100 * x),
    }),
    figure({
      id: 'pipeline.cpu-per-flip.node',
      section,
      what: 'backend CPU per flip, against Node doing the same',
      unit: 'µs',
      vdispld: vd.cpuUsPerFlip,
      floorName: nfl,
      floor: nodeFloor.cpuUsPerFlip,
    }),
    figure({
      id: 'pipeline.rss.node',
      section,
      what: 'backend RSS, against Node doing the same',
      unit: 'MiB',
      vdispld: vd.rssMiB,
      floorName: nfl,
      floor: nodeFloor.rssMiB,
      note: `peak (VmHWM): vdispld ${vd.peakRssMiB.toFixed(1)} MiB, Node floor ${nodeFloor.peakRssMiB.toFixed(1)} MiB`,
    }),
    figure({
      id: 'pipeline.node-floor.cpu',
      section,
      what: 'the Node floor itself: CPU share of one core (Node runtime + addon + simulated transport)',
      unit: '%',
      vdispld: nodeFloor.cpuShare.map((x) => 100 * x),
      floorName: fl,
      floor: floor.cpuShare.map((x) => 100 * x),
      note: `Node floor: ${nodeFloor.late.reduce((a, b) => a + b, 0)} late events, ${nodeFloor.failed.reduce((a, b) => a + b, 0)} failed, fps ${nodeFloor.fps.map((x) => x.toFixed(1)).join(' ')}`,
    }),
    figure({
      id: 'pipeline.node-floor.cpu-per-flip',
      section,
      what: 'the Node floor itself: CPU per flip',
      unit: 'µs',
      vdispld: nodeFloor.cpuUsPerFlip,
      floorName: fl,
      floor: floor.cpuUsPerFlip,
    }),
    figure({
      id: 'pipeline.node-floor.rss',
      section,
      what: 'the Node floor itself: RSS',
      unit: 'MiB',
      vdispld: nodeFloor.rssMiB,
      floorName: fl,
      floor: floor.rssMiB,
    }),
    percentileFigure('pipeline.rtt.p50', 'PG_FLIP round trip under this load, p50', 'rttUs', 50),
    percentileFigure('pipeline.rtt.p99', 'PG_FLIP round trip under this load, p99', 'rttUs', 99),
    percentileFigure('pipeline.latency.p50', 'flip latency p50 (PG_FLIP pushed to EVT_PG_FLIP)', 'latencyUs', 50),
    percentileFigure('pipeline.latency.p99', 'flip latency p99 (PG_FLIP pushed to EVT_PG_FLIP)', 'latencyUs', 99),
  ];
}
