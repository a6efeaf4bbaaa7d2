// XenStore: vdispld's client against a minimal C client (bench/floor/xs-floor.c), each in a
// process of its own, on one simulated xenstored in this process. Reads per second (sequential
// and 64 in flight) and watch-event latency. Rounds alternate which client goes first.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startXenstored } from '../../src/sim/xenstored/index.js';
import { XenStoreClient } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';
import { REPO } from '../lib/build.js';
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { percentile } from '../lib/stats.js';
import type { XenStoreRunResult } from './xenstore-client.js';

const run = promisify(execFile);
const SECONDS = 1;

export async function xenstoreSuite(ctx: BenchContext): Promise<Figure[]> {
  const dir = mkdtempSync(join(ctx.workDir, 'xs-'));
  const xsd = await startXenstored({ socketPath: join(dir, 'socket') });
  const runs = {
    vdispld: { seq: [] as number[], pipe: [] as number[], p50: [] as number[], p99: [] as number[] },
    floor: { seq: [] as number[], pipe: [] as number[], p50: [] as number[], p99: [] as number[] },
  };
  try {
    const setup = await XenStoreClient.connect({ transport: unixSocketTransport(xsd.socketPath), reconnect: false });
    try {
      for (let i = 0; i < 64; i++) await setup.write(`/bench/k${i}`, `value-${i}`);
    } finally {
      await setup.close();
    }
    for (let r = 0; r < ctx.opts.rounds; r++) {
      const order = r % 2 === 0 ? (['floor', 'vdispld'] as const) : (['vdispld', 'floor'] as const);
      for (const who of order) {
        const { stdout } =
          who === 'floor'
            ? await run(ctx.floors.xenstore, [xsd.socketPath, String(SECONDS)], { maxBuffer: 1 << 24 })
            : await run(
                process.execPath,
                [
                  '--import',
                  'tsx',
                  join(REPO, 'bench', 'suites', 'xenstore-client.ts'),
                  xsd.socketPath,
                  String(SECONDS),
                ],
                {
                  cwd: REPO,
                  maxBuffer: 1 << 24,
                },
              );
        const res = JSON.parse(stdout) as XenStoreRunResult;
        const out = runs[who];
        out.seq.push(res.readsPerSecSequential);
        out.pipe.push(res.readsPerSecPipelined);
        out.p50.push(percentile(res.watchUs, 50));
        out.p99.push(percentile(res.watchUs, 99));
      }
      ctx.log(
        `xenstore ${r + 1}/${ctx.opts.rounds}: ${runs.vdispld.seq.at(-1)} reads/s (floor ${runs.floor.seq.at(-1)})`,
      );
    }
  } finally {
    await xsd.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const section = 'XenStore client (simulated xenstored)';
  const fl = 'C xs_wire client';
  return [
    figure({
      id: 'xenstore.reads-seq',
      section,
      what: 'reads per second, sequential',
      unit: 'reads/s',
      vdispld: runs.vdispld.seq,
      floorName: fl,
      floor: runs.floor.seq,
    }),
    figure({
      id: 'xenstore.reads-pipe',
      section,
      what: 'reads per second, 64 in flight',
      unit: 'reads/s',
      vdispld: runs.vdispld.pipe,
      floorName: fl,
      floor: runs.floor.pipe,
    }),
    figure({
      id: 'xenstore.watch.p50',
      section,
      what: 'watch event latency p50',
      unit: 'µs',
      vdispld: runs.vdispld.p50,
      floorName: fl,
      floor: runs.floor.p50,
    }),
    figure({
      id: 'xenstore.watch.p99',
      section,
      what: 'watch event latency p99',
      unit: 'µs',
      vdispld: runs.vdispld.p99,
      floorName: fl,
      floor: runs.floor.p99,
    }),
  ];
}
