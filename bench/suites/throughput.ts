// Throughput: 4 guests x 4 connectors all busy, each connector sending PG_FLIP after PG_FLIP on
// its own ring with one request in flight (the driver's rule), for a few seconds per round.
// vdispld, the C floor and the Node floor (bench/floor/ring-floor-node.ts) each serve their own 4
// guests on one host; rounds rotate between them while the others idle. Besides requests per
// second, the backend's CPU time per request: against the C floor, and against Node doing the
// same work (what is vdispld's own).
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import type { BenchGuest } from '../lib/guests.js';
import { sampleProc } from '../lib/proc.js';
import { BOTH, Rig } from '../lib/rig.js';

const GUESTS = 4;
const CONNECTORS = 4;

const ids = (side: string, g: number): string[] => Array.from({ length: CONNECTORS }, (_, c) => `${side}${g}c${c}`);

async function round(
  guests: readonly BenchGuest[],
  pid: number,
  ms: number,
): Promise<{ rps: number; cpuUsPerRequest: number; errors: Record<string, number> }> {
  const before = sampleProc(pid);
  const reports = await Promise.all(guests.map((g) => g.ask({ cmd: 'throughput', ms }, 'throughput', ms + 60_000)));
  const after = sampleProc(pid);
  const requests = reports.reduce((n, r) => n + r.requests, 0);
  const rps = reports.reduce((n, r) => n + r.requests / (r.elapsedMs / 1000), 0);
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const cpuUsPerRequest = before && after ? ((after.cpuMs - before.cpuMs) * 1000) / requests : NaN;
  return { rps, cpuUsPerRequest, errors };
}

export async function throughputSuite(ctx: BenchContext): Promise<Figure[]> {
  const headless = Array.from({ length: GUESTS }, (_, g) => ids('t', g).map((id) => `${id}=1920x1080@60`)).flat();
  const rig = await Rig.start(ctx, {
    name: 'throughput',
    backends: [...BOTH, { label: 'node-floor', kind: 'floor', node: true }],
    headless,
    vblankHz: 60,
  });
  try {
    const sides = ['vdispld', 'floor', 'node-floor'] as const;
    const guests = [
      await rig.addGuests('vdispld', GUESTS, (g) => ids('t', g)),
      await rig.addGuests('floor', GUESTS, (g) => ids('f', g)),
      await rig.addGuests('node-floor', GUESTS, (g) => ids('n', g)),
    ];
    for (const g of guests.flat()) await g.ask({ cmd: 'prepare' }, 'prepared', 120_000);
    const ms = ctx.opts.throughputSeconds * 1000;
    const runs = { rps: [[], [], []] as number[][], cpu: [[], [], []] as number[][] };
    for (let r = 0; r < ctx.opts.rounds; r++) {
      // Each side first, second and last in turn.
      for (let k = 0; k < sides.length; k++) {
        const side = (r + k) % sides.length;
        const res = await round(guests[side]!, rig.backend(sides[side]!).pid, ms);
        if (Object.keys(res.errors).length)
          ctx.log(`throughput: ${sides[side]!}: requests failed, by status: ${JSON.stringify(res.errors)}`);
        runs.rps[side]!.push(res.rps);
        runs.cpu[side]!.push(res.cpuUsPerRequest);
      }
      ctx.log(
        `throughput ${r + 1}/${ctx.opts.rounds}: ${runs.rps[0]!.at(-1)!.toFixed(0)} requests/s (floor ${runs.rps[1]!.at(-1)!.toFixed(0)}, Node floor ${runs.rps[2]!.at(-1)!.toFixed(0)})`,
      );
    }
    const section = `Throughput (${GUESTS} guests x ${CONNECTORS} connectors, PG_FLIP back to back)`;
    return [
      figure({
        id: 'throughput.rps',
        section,
        what: 'requests per second',
        unit: 'req/s',
        vdispld: runs.rps[0]!,
        floorName: 'C ring floor',
        floor: runs.rps[1]!,
      }),
      figure({
        id: 'throughput.cpu',
        section,
        what: 'backend CPU per request',
        unit: 'µs',
        vdispld: runs.cpu[0]!,
        floorName: 'C ring floor',
        floor: runs.cpu[1]!,
      }),
      figure({
        id: 'throughput.rps.node',
        section,
        what: 'requests per second, against Node doing the same',
        unit: 'req/s',
        vdispld: runs.rps[0]!,
        floorName: 'Node ring floor',
        floor: runs.rps[2]!,
      }),
      figure({
        id: 'throughput.cpu.node',
        section,
        what: 'backend CPU per request, against Node doing the same',
        unit: 'µs',
        vdispld: runs.cpu[0]!,
        floorName: 'Node ring floor',
        floor: runs.cpu[2]!,
      }),
      figure({
        id: 'throughput.node-floor.cpu',
        section,
        what: 'the Node floor itself: CPU per request',
        unit: 'µs',
        vdispld: runs.cpu[2]!,
        floorName: 'C ring floor',
        floor: runs.cpu[1]!,
      }),
    ];
  } finally {
    await rig.close();
  }
}
