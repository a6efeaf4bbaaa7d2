// Benchmark (not a test): XenStore client against the simulated xenstored, in one process.
// Prints reads per second (sequential, and with many requests in flight) and watch-event latency
// (write by one connection -> callback on another). Run: node --import tsx bench/xenstore.ts
// Options: --seconds N (per measurement, default 2), --json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startXenstored } from '../src/sim/xenstored/index.js';
import { XenStoreClient } from '../src/xenstore/client.js';
import { unixSocketTransport } from '../src/xenstore/transport-unix.js';

export interface XenStoreBenchResult {
  readonly readsPerSecSequential: number;
  readonly readsPerSecPipelined: number;
  readonly pipelineDepth: number;
  readonly watchLatencyUs: { readonly p50: number; readonly p99: number; readonly max: number; readonly samples: number };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchXenstore(seconds = 2): Promise<XenStoreBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-bench-xs-'));
  const xsd = await startXenstored({ socketPath: join(dir, 'socket') });
  const reader = await XenStoreClient.connect({ transport: unixSocketTransport(xsd.socketPath), reconnect: false });
  const writer = await XenStoreClient.connect({ transport: unixSocketTransport(xsd.socketPath), reconnect: false });
  try {
    for (let i = 0; i < 64; i++) await writer.write(`/bench/k${i}`, `value-${i}`);

    let n = 0;
    let t0 = performance.now();
    const until = (): boolean => performance.now() - t0 < seconds * 1000;
    while (until()) {
      await reader.read(`/bench/k${n & 63}`);
      n++;
    }
    const sequential = n / ((performance.now() - t0) / 1000);

    const depth = 64;
    n = 0;
    t0 = performance.now();
    while (until()) {
      await Promise.all(Array.from({ length: depth }, (_, i) => reader.read(`/bench/k${i}`)));
      n += depth;
    }
    const pipelined = n / ((performance.now() - t0) / 1000);

    const samples: number[] = [];
    let sentAt = 0;
    let wake: (() => void) | undefined;
    const w = await reader.watch('/bench/watched', () => {
      if (sentAt !== 0) samples.push((performance.now() - sentAt) * 1000);
      wake?.();
    });
    t0 = performance.now();
    for (let i = 0; until() && i < 20_000; i++) {
      const seen = new Promise<void>((r) => (wake = r));
      sentAt = performance.now();
      await writer.write('/bench/watched', String(i));
      await seen;
    }
    await w.close();
    samples.sort((a, b) => a - b);
    return {
      readsPerSecSequential: Math.round(sequential),
      readsPerSecPipelined: Math.round(pipelined),
      pipelineDepth: depth,
      watchLatencyUs: { p50: Math.round(percentile(samples, 50)), p99: Math.round(percentile(samples, 99)), max: Math.round(samples[samples.length - 1]!), samples: samples.length },
    };
  } finally {
    await reader.close();
    await writer.close();
    await xsd.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--seconds');
  const seconds = i >= 0 ? Number(args[i + 1]) : 2;
  if (!(seconds > 0 && seconds <= 60)) {
    console.error('bench/xenstore: --seconds takes a number in (0, 60]');
    process.exit(2);
  }
  const r = await benchXenstore(seconds);
  if (args.includes('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`xenstore reads/s (sequential):          ${r.readsPerSecSequential}`);
    console.log(`xenstore reads/s (${r.pipelineDepth} in flight):          ${r.readsPerSecPipelined}`);
    console.log(`watch-event latency (µs): p50 ${r.watchLatencyUs.p50}  p99 ${r.watchLatencyUs.p99}  max ${r.watchLatencyUs.max}  (${r.watchLatencyUs.samples} events)`);
  }
}
