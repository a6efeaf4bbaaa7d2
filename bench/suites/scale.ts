// How the flip pipeline's cost grows with connectors: the pipeline (pipeline.ts) run at several
// sizes, 4 connectors per guest at 60 frames/s, the floor first and then vdispld at each size, on
// hosts of their own. Per size: the backend's CPU share of one core, its peak RSS, late and
// failed flips, against the floor's at the same size in the same run. Not in the default set
// (64 guest processes take minutes to set up): `npm run bench -- --only scale`.
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { runSide } from './pipeline.js';

const CONNECTORS = 4;

export async function scaleSuite(ctx: BenchContext): Promise<Figure[]> {
  const figures: Figure[] = [];
  const s = ctx.opts.pipelineSeconds;
  const points: { connectors: number; cpu: number; rss: number }[] = [];
  for (const guests of ctx.opts.scaleGuests) {
    const n = guests * CONNECTORS;
    const floor = await runSide(ctx, 'floor', guests, s);
    const vd = await runSide(ctx, 'vdispld', guests, s);
    const section = `Scale: ${n} connectors (${guests} guests x ${CONNECTORS} at 60 frames/s, ${s} s; runs = windows)`;
    const fl = 'C ring floor';
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const medianCpu = [...vd.cpuShare].sort((a, b) => a - b)[Math.floor(vd.cpuShare.length / 2)] ?? NaN;
    points.push({ connectors: n, cpu: 100 * medianCpu, rss: vd.peakRssMiB });
    figures.push(
      figure({
        id: `scale.${n}.failed`,
        section,
        what: 'flips failed or timed out per window',
        unit: 'flips',
        vdispld: vd.failed,
        floorName: fl,
        floor: floor.failed,
        target: (f) => ({ text: 'none', met: f.vdispld.max === 0 }),
      }),
      figure({
        id: `scale.${n}.late`,
        section,
        what: 'late flip events (> 1 frame) per window',
        unit: 'events',
        vdispld: vd.late,
        floorName: fl,
        floor: floor.late,
        target: () => ({ text: "no more than the floor's", met: sum(vd.late) <= sum(floor.late) }),
        note: `late events over the run: vdispld ${sum(vd.late)}, floor ${sum(floor.late)}`,
      }),
      figure({
        id: `scale.${n}.fps`,
        section,
        what: 'frames per second per connector',
        unit: 'fps',
        vdispld: vd.fps,
        floorName: fl,
        floor: floor.fps,
      }),
      figure({
        id: `scale.${n}.cpu`,
        section,
        what: 'backend CPU share of one core',
        unit: '%',
        vdispld: vd.cpuShare.map((x) => 100 * x),
        floorName: fl,
        floor: floor.cpuShare.map((x) => 100 * x),
      }),
      figure({
        id: `scale.${n}.cpu-per-flip`,
        section,
        what: 'backend CPU per flip',
        unit: 'µs',
        vdispld: vd.cpuUsPerFlip,
        floorName: fl,
        floor: floor.cpuUsPerFlip,
      }),
      figure({
        id: `scale.${n}.rss`,
        section,
        what: 'backend peak RSS (VmHWM)',
        unit: 'MiB',
        vdispld: [vd.peakRssMiB],
        floorName: fl,
        floor: [floor.peakRssMiB],
      }),
    );
    ctx.log(
      `scale: ${n} connectors: CPU ${points.at(-1)!.cpu.toFixed(1)} % of a core, peak RSS ${vd.peakRssMiB.toFixed(1)} MiB`,
    );
  }
  // Growth between the smallest and the largest size: the cost of one more connector.
  const first = points[0];
  const last = points.at(-1);
  if (first && last && last.connectors > first.connectors) {
    const dn = last.connectors - first.connectors;
    ctx.log(
      `scale: per connector from ${first.connectors} to ${last.connectors}: ` +
        `${((last.cpu - first.cpu) / dn).toFixed(3)} % of a core, ${(((last.rss - first.rss) * 1024) / dn).toFixed(0)} KiB RSS`,
    );
  }
  return figures;
}
