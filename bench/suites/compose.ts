// CPU composition of a layout (drm/compose): 2 and 4 guests on one 1920x1080 output, every guest
// flipping every frame, against a copy in C of the bytes composed per frame (copy-path.ts's floor). Each round runs the
// compose worker (bench/suites/compose-worker.ts) and the memcpy floor, alternating which goes first.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/build.js';
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { median } from '../lib/stats.js';
import type { ComposeWorkerResult } from './compose-worker.js';
import { COPY_FLOOR, copyFloorUs } from './copy-path.js';

const run = promisify(execFile);
const FRAME = 1920 * 1080 * 4;

function makeSource(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >> 12)) & 0x7f;
    for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
}

export async function composeSuite(ctx: BenchContext): Promise<Figure[]> {
  const dir = existsSync('/dev/shm') ? '/dev/shm' : ctx.workDir;
  const source = join(dir, `vdispld-bench-compose-${process.pid}`);
  // The floor maps two buffers of the bytes it copies; a frame composes at most a frame's worth here.
  makeSource(source, 2 * FRAME);
  const iterations = 60;
  const figures: Figure[] = [];
  const section = 'CPU composition (a layout on one 1920x1080 output, every guest flipping every frame)';
  try {
    for (const guests of [2, 4]) {
      const frame: number[] = [];
      const bytes: number[] = [];
      const memcpy: number[] = [];
      for (let round = 0; round < ctx.opts.rounds; round++) {
        const worker = async (): Promise<void> => {
          const { stdout } = await run(
            process.execPath,
            ['--import', 'tsx', join(REPO, 'bench', 'suites', 'compose-worker.ts'), String(guests), String(iterations)],
            { cwd: REPO, maxBuffer: 1 << 24 },
          );
          const r = JSON.parse(stdout) as ComposeWorkerResult;
          frame.push(median(r.frameCpuUs));
          bytes.push(r.bytesPerFrame);
        };
        const floor = async (): Promise<void> => {
          // memcpy of the bytes composed per frame (a whole frame: every rectangle redrawn once).
          const { stdout } = await run(ctx.floors.memcpy, [source, String(FRAME), String(iterations)]);
          memcpy.push(copyFloorUs(stdout));
        };
        if (round % 2 === 0) {
          await floor();
          await worker();
        } else {
          await worker();
          await floor();
        }
        ctx.log(
          `compose ${guests} guests ${round + 1}/${ctx.opts.rounds}: ${frame.at(-1)!.toFixed(0)} µs CPU per frame, ${bytes.at(-1)} bytes, floor ${memcpy.at(-1)!.toFixed(0)} µs`,
        );
      }
      figures.push(
        figure({
          id: `compose.${guests}-guests-cpu`,
          section,
          what: `${guests} guests: CPU per composed frame (flips, composition, completions)`,
          unit: 'µs',
          vdispld: frame,
          floorName: `${COPY_FLOOR}, of the bytes composed`,
          floor: memcpy,
        }),
        figure({
          id: `compose.${guests}-guests-bytes`,
          section,
          what: `${guests} guests: bytes composed per frame`,
          unit: 'B',
          vdispld: bytes,
          floorName: 'frame size',
          floor: bytes.map(() => FRAME),
          target: (f) => ({ text: 'each pixel written once', met: f.vdispld.max === FRAME }),
        }),
      );
    }
  } finally {
    rmSync(source, { force: true });
  }
  return figures;
}
