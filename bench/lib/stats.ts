// Order statistics for benchmark samples. Percentiles use the nearest-rank method: every
// reported value is one that was measured, never an interpolation between two.

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Nearest-rank percentile of already sorted samples; NaN for none. */
export function percentileSorted(s: readonly number[], p: number): number {
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function percentile(xs: readonly number[], p: number): number {
  return percentileSorted(sorted(xs), p);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** One figure over repeated runs: the median, and the spread as the lowest and highest run. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** The value of each run, in run order. */
  readonly runs: readonly number[];
}

export function summarize(runs: readonly number[]): Summary {
  const s = sorted(runs.filter((x) => Number.isFinite(x)));
  return { median: percentileSorted(s, 50), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, runs: [...runs] };
}
