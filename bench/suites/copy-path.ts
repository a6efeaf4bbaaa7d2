// The copy path and the zero-copy path of the KMS output, against a copy of the same bytes in C.
// Each round runs the KMS worker (bench/suites/kms-worker.ts) and the memcpy floor on one source
// file in shared memory, alternating which goes first. The floor is the cheaper of glibc's memcpy
// and a loop of streaming stores (bench/floor/memcpy-floor.c): vdispld's copy streams, and on
// machines where that beats memcpy a memcpy floor would no longer be the least a copy costs.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/build.js';
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { median } from '../lib/stats.js';
import type { KmsWorkerResult } from './kms-worker.js';

const run = promisify(execFile);
const FRAME = 1920 * 1080 * 4;

/** The copy floor's name in the tables. */
export const COPY_FLOOR = 'memcpy or streaming stores in C, the cheaper';

/** µs per copy from memcpy-floor's output: the lower median of its two ways of copying. */
export function copyFloorUs(stdout: string): number {
  return copyFloors(stdout).least;
}

/** memcpy-floor's two medians in µs, and the lower. */
function copyFloors(stdout: string): { least: number; memcpy: number } {
  const r = JSON.parse(stdout) as { cpuNs: number[]; streamNs?: number[] };
  const libc = median(r.cpuNs) / 1000;
  return { least: r.streamNs?.length ? Math.min(libc, median(r.streamNs) / 1000) : libc, memcpy: libc };
}

/** Two frames of guest-like pixels (bytes <= 0x7f: the audit's poison never occurs in them). */
function makeSource(path: string): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >> 12)) & 0x7f;
    for (let left = 2 * FRAME; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    closeSync(fd);
  }
}

export async function copyPathSuite(ctx: BenchContext): Promise<Figure[]> {
  const dir = existsSync('/dev/shm') ? '/dev/shm' : ctx.workDir;
  const source = join(dir, `vdispld-bench-frames-${process.pid}`);
  makeSource(source);
  const iterations = 60;
  const runs = {
    copyCode: [] as number[],
    copyFlip: [] as number[],
    zcFlip: [] as number[],
    memcpy: [] as number[],
    libcMemcpy: [] as number[],
    copyBytes: [] as number[],
    zcBytes: [] as number[],
  };
  let paths = '';
  try {
    for (let round = 0; round < ctx.opts.rounds; round++) {
      const worker = async (): Promise<void> => {
        const { stdout } = await run(
          process.execPath,
          ['--import', 'tsx', join(REPO, 'bench', 'suites', 'kms-worker.ts'), source, String(iterations)],
          {
            cwd: REPO,
            maxBuffer: 1 << 24,
          },
        );
        const r = JSON.parse(stdout) as KmsWorkerResult;
        runs.copyCode.push(median(r.copyCodeCpuUs));
        runs.copyFlip.push(median(r.copyFlipCpuUs));
        runs.zcFlip.push(median(r.zeroCopyFlipCpuUs));
        runs.copyBytes.push(median(r.copyBytesPerFrame));
        runs.zcBytes.push(median(r.zeroCopyBytesPerFrame));
        paths = `copy card: ${r.copyPath}; zero-copy card: ${r.zeroCopyPath}`;
      };
      const floor = async (): Promise<void> => {
        const { stdout } = await run(ctx.floors.memcpy, [source, String(FRAME), String(iterations)]);
        const f = copyFloors(stdout);
        runs.memcpy.push(f.least);
        runs.libcMemcpy.push(f.memcpy);
      };
      if (round % 2 === 0) {
        await floor();
        await worker();
      } else {
        await worker();
        await floor();
      }
      ctx.log(
        `copy path ${round + 1}/${ctx.opts.rounds}: ${runs.copyFlip.at(-1)!.toFixed(0)} µs CPU per copied flip, floor ${runs.memcpy.at(-1)!.toFixed(0)} µs`,
      );
    }
  } finally {
    rmSync(source, { force: true });
  }
  const section = 'Copy and zero-copy paths (KMS output, fake card, 1920x1080 XRGB8888)';
  return [
    figure({
      id: 'copy.flip-cpu',
      section,
      what: 'copy path: CPU per frame (flip, copy, commit)',
      unit: 'µs',
      vdispld: runs.copyFlip,
      floorName: COPY_FLOOR,
      floor: runs.memcpy,
      target: (f) => ({
        text: 'within 1.3x the floor',
        met: f.ratio !== undefined && f.ratio.median <= 1.3,
      }),
      note: paths,
    }),
    figure({
      id: 'copy.flip-cpu-memcpy',
      section,
      what: 'copy path: CPU per frame, against memcpy alone',
      unit: 'µs',
      vdispld: runs.copyFlip,
      floorName: 'memcpy in C',
      floor: runs.libcMemcpy,
    }),
    figure({
      id: 'copy.code-cpu',
      section,
      what: 'copy code alone (copyRegion): CPU per frame',
      unit: 'µs',
      vdispld: runs.copyCode,
      floorName: COPY_FLOOR,
      floor: runs.memcpy,
    }),
    figure({
      id: 'copy.bytes',
      section,
      what: 'copy path: bytes written per frame (audit)',
      unit: 'B',
      vdispld: runs.copyBytes,
      floorName: 'frame size',
      floor: runs.copyBytes.map(() => FRAME),
    }),
    figure({
      id: 'zero-copy.bytes',
      section,
      what: 'zero-copy path: bytes copied per frame (audit)',
      unit: 'B',
      vdispld: runs.zcBytes,
      floorName: 'nothing',
      floor: runs.zcBytes.map(() => 0),
      target: (f) => ({ text: 'must be 0', met: f.vdispld.max === 0 }),
    }),
    figure({
      id: 'zero-copy.flip-cpu',
      section,
      what: 'zero-copy path: CPU per flip',
      unit: 'µs',
      vdispld: runs.zcFlip,
      floorName: COPY_FLOOR,
      floor: runs.memcpy,
      note: 'the floor here is what copying would cost at the least',
    }),
  ];
}
