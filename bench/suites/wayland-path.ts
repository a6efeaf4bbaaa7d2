// The Wayland output's wl_shm path against memcpy of the same bytes in C: a 1920x1080 XRGB8888
// frame per flip, in a worker process (bench/suites/wayland-worker.ts) against a private Weston.
// Skipped (no figures) where Weston is not installed.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/build.js';
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { median } from '../lib/stats.js';
import { westonAvailable } from '../../test/wayland/helpers/weston.js';
import type { WaylandWorkerResult } from './wayland-worker.js';

const run = promisify(execFile);
const FRAME = 1920 * 1080 * 4;

export async function waylandPathSuite(ctx: BenchContext): Promise<Figure[]> {
  if (!westonAvailable()) {
    ctx.log('wayland: weston is not installed (scripts/setup.sh installs it): no figures');
    return [];
  }
  const dir = existsSync('/dev/shm') ? '/dev/shm' : ctx.workDir;
  const source = join(dir, `vdispld-bench-wl-frames-${process.pid}`);
  const fd = openSync(source, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >> 12)) & 0x7f;
    for (let left = 2 * FRAME; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
  const iterations = 60;
  const runs = { flip: [] as number[], paint: [] as number[], memcpy: [] as number[], bytes: [] as number[] };
  try {
    for (let round = 0; round < ctx.opts.rounds; round++) {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', join(REPO, 'bench', 'suites', 'wayland-worker.ts'), source, String(iterations)],
        {
          cwd: REPO,
          maxBuffer: 1 << 24,
        },
      );
      const r = JSON.parse(stdout) as WaylandWorkerResult;
      runs.flip.push(median(r.flipCpuUs));
      runs.paint.push(median(r.paintCpuUs));
      runs.bytes.push(r.bytesPerFrame);
      const f = await run(ctx.floors.memcpy, [source, String(FRAME), String(iterations)]);
      runs.memcpy.push(median((JSON.parse(f.stdout) as { cpuNs: number[] }).cpuNs) / 1000);
      ctx.log(
        `wayland ${round + 1}/${ctx.opts.rounds}: ${runs.flip.at(-1)!.toFixed(0)} µs CPU per flip, memcpy ${runs.memcpy.at(-1)!.toFixed(0)} µs`,
      );
    }
  } finally {
    rmSync(source, { force: true });
  }
  const section = 'Wayland output, wl_shm (Weston headless, 1920x1080 XRGB8888)';
  return [
    figure({
      id: 'wayland.flip-cpu',
      section,
      what: 'CPU per flip (copy into wl_shm, commit, presented feedback)',
      unit: 'µs',
      vdispld: runs.flip,
      floorName: 'memcpy in C',
      floor: runs.memcpy,
      note: "the compositor's own CPU is not counted",
    }),
    figure({
      id: 'wayland.paint-cpu',
      section,
      what: 'the copy alone (paintViewport): CPU per frame',
      unit: 'µs',
      vdispld: runs.paint,
      floorName: 'memcpy in C',
      floor: runs.memcpy,
    }),
    figure({
      id: 'wayland.bytes',
      section,
      what: 'bytes copied per frame',
      unit: 'B',
      vdispld: runs.bytes,
      floorName: 'frame size',
      floor: runs.bytes.map(() => FRAME),
    }),
  ];
}
