// How long a process's event loop was held: Node's event-loop delay histogram (p50/p99/max) plus
// a coarse drift timer that counts and timestamps stalls over fixed bars. A stall in the daemon
// delays every guest it serves; a stall in the campaign's process (the simulated hypervisor and
// xenstored live there) delays guests too but is not the daemon's doing — measuring both tells
// which is which.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Stall bars reported: the campaign's old 250 ms bar, the daemon's 1 s target. */
export const STALL_BARS_MS = [50, 100, 250, 1000] as const;
const DRIFT_TICK_MS = 20;
/** The longest stalls kept with their time, for matching against late flips. */
const KEEP_STALLS = 500;

export interface LoopLagSummary {
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Stalls longer than each bar (ms -> count). */
  readonly stallsOver: Record<string, number>;
  /**
   * The longest stalls: [wall-clock ms when the loop came back, stall ms, CPU ms the process
   * (all its threads: the loop's and the garbage collector's helpers) used meanwhile — the work
   * the stall was made of, at most the stall; the rest was waiting for a CPU or a blocking call].
   */
  readonly longest: readonly (readonly [number, number, number?])[];
}

export class LoopLag {
  private readonly histogram: IntervalHistogram;
  private readonly drift: NodeJS.Timeout;
  private readonly started = Date.now();
  private last = performance.now();
  private readonly over = new Map<number, number>(STALL_BARS_MS.map((b) => [b, 0]));
  private longest: [number, number, number?][] = [];
  private lastCpu = process.cpuUsage();
  private closed = false;

  /** `recordFromMs`: stalls from this length up are kept with their time (default the first bar). */
  constructor(private readonly recordFromMs: number = STALL_BARS_MS[0]) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.drift = setInterval(() => this.tick(), DRIFT_TICK_MS);
    // A probe must never keep its process alive.
    this.drift.unref();
  }

  private tick(): void {
    const now = performance.now();
    const stall = now - this.last - DRIFT_TICK_MS;
    this.last = now;
    const cpu = process.cpuUsage();
    const used = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    this.lastCpu = cpu;
    if (stall < Math.min(this.recordFromMs, STALL_BARS_MS[0])) return;
    for (const b of STALL_BARS_MS) if (stall > b) this.over.set(b, this.over.get(b)! + 1);
    if (stall < this.recordFromMs) return;
    this.longest.push([Date.now(), Math.round(stall), Math.round(Math.min(stall + DRIFT_TICK_MS, used))]);
    if (this.longest.length > KEEP_STALLS * 2)
      this.longest = this.longest.sort((a, b) => b[1] - a[1]).slice(0, KEEP_STALLS);
  }

  summary(): LoopLagSummary {
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    return {
      seconds: Math.round((Date.now() - this.started) / 1000),
      p50Ms: ms(this.histogram.percentile(50)),
      p99Ms: ms(this.histogram.percentile(99)),
      maxMs: ms(this.histogram.max),
      stallsOver: Object.fromEntries([...this.over].map(([b, n]) => [String(b), n])),
      longest: [...this.longest].sort((a, b) => b[1] - a[1]).slice(0, KEEP_STALLS),
    };
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.drift);
    this.histogram.disable();
  }
}

/** One line for a campaign's figures. */
export function showLag(s: LoopLagSummary): string {
  const over = STALL_BARS_MS.map((b) => `>${b}:${s.stallsOver[String(b)] ?? 0}`).join(' ');
  return `p50 ${s.p50Ms} / p99 ${s.p99Ms} / max ${s.maxMs} ms; stalls ${over}`;
}

/** The longest stalls as `HH:MM:SS.mmm:ms`, to set against late flips' arrival times. */
export function showStalls(s: LoopLagSummary, n = 15): string {
  return s.longest
    .slice(0, n)
    .map(([at, ms]) => `${new Date(at).toISOString().slice(11, 23)}:${ms}`)
    .join(' ');
}

/** What the daemon's probe wrote at exit (undefined if it did not exit in order). */
export function readLag(file: string): LoopLagSummary | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LoopLagSummary;
  } catch {
    return undefined;
  }
}
