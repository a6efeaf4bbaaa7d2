// vdispld's XenStore client (src/xenstore) doing what the XenStore floor (bench/floor/xs-floor.c)
// does, in a process of its own against the same simulated xenstored: sequential reads, reads
// with 64 in flight, and watch-event latency (a write on one connection to the callback on
// another). The keys /bench/k0../bench/k63 must exist.
// Arguments: SOCKET SECONDS. Prints one JSON object, the floor's format.
import { performance } from 'node:perf_hooks';
import { XenStoreClient } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';

export interface XenStoreRunResult {
  readonly readsPerSecSequential: number;
  readonly readsPerSecPipelined: number;
  readonly pipelineDepth: number;
  readonly watchUs: number[];
}

const DEPTH = 64;
const MAX_WATCH_SAMPLES = 20_000;

async function measure(socketPath: string, seconds: number): Promise<XenStoreRunResult> {
  const reader = await XenStoreClient.connect({ transport: unixSocketTransport(socketPath), reconnect: false });
  const writer = await XenStoreClient.connect({ transport: unixSocketTransport(socketPath), reconnect: false });
  try {
    let n = 0;
    let t0 = performance.now();
    const until = (): boolean => performance.now() - t0 < seconds * 1000;
    while (until()) {
      await reader.read(`/bench/k${n & (DEPTH - 1)}`);
      n++;
    }
    const sequential = n / ((performance.now() - t0) / 1000);

    n = 0;
    t0 = performance.now();
    while (until()) {
      await Promise.all(Array.from({ length: DEPTH }, (_, i) => reader.read(`/bench/k${i}`)));
      n += DEPTH;
    }
    const pipelined = n / ((performance.now() - t0) / 1000);

    const watchUs: number[] = [];
    let sentAt = 0;
    let wake: (() => void) | undefined;
    const w = await reader.watch('/bench/watched', () => {
      if (sentAt !== 0) watchUs.push((performance.now() - sentAt) * 1000);
      wake?.();
    });
    t0 = performance.now();
    for (let i = 0; until() && i < MAX_WATCH_SAMPLES; i++) {
      const seen = new Promise<void>((r) => (wake = r));
      sentAt = performance.now();
      await writer.write('/bench/watched', String(i));
      await seen;
    }
    await w.close();
    return {
      readsPerSecSequential: Math.round(sequential),
      readsPerSecPipelined: Math.round(pipelined),
      pipelineDepth: DEPTH,
      watchUs,
    };
  } finally {
    await reader.close();
    await writer.close();
  }
}

const [socketPath, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
if (!socketPath || !(seconds > 0 && seconds <= 60)) {
  process.stderr.write('usage: xenstore-client SOCKET SECONDS (0 < SECONDS <= 60)\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await measure(socketPath, seconds))}\n`);
