// What guests reported, summed up: a well-behaved guest's flips (every one released by its event,
// within its deadline) and a hostile guest's accounting (every request answered or its device
// closed). Pure functions over the report lists SimGuest keeps.
import type { FrontendReport } from '../../../src/sim/frontend/protocol.js';

export type FrameReport = Extract<FrontendReport, { kind: 'frame' }>;
export type HostileSummary = Extract<FrontendReport, { kind: 'hostile-summary' }>;

export interface FlipFigures {
  readonly frames: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Flips not released by their EVT_PG_FLIP (status error, or the driver's 3.1 s frame-done timeout). */
  readonly failed: number;
  /** Flips whose event came later than the deadline. */
  readonly late: number;
  /** The longest time between two consecutive flips released (the stutter a user sees), and its p99. */
  readonly maxIntervalMs: number;
  readonly p99IntervalMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export function flipFigures(reports: readonly FrontendReport[], deadlineMs: number, from = 0): FlipFigures {
  const frames = reports.slice(from).filter((r): r is FrameReport => r.kind === 'frame');
  const ms = frames.map((f) => f.ms).sort((a, b) => a - b);
  const intervals = frames.flatMap((f) => (f.intervalMs === undefined ? [] : [f.intervalMs])).sort((a, b) => a - b);
  return {
    maxIntervalMs: round(intervals[intervals.length - 1] ?? 0),
    p99IntervalMs: round(percentile(intervals, 0.99)),
    frames: frames.length,
    p50Ms: round(percentile(ms, 0.5)),
    p99Ms: round(percentile(ms, 0.99)),
    maxMs: round(ms[ms.length - 1] ?? 0),
    failed: frames.filter((f) => f.status !== 0 || f.flip !== 'event').length,
    late: frames.filter((f) => f.ms > deadlineMs).length,
  };
}

/** Reports a guest should never see from a correct backend, whatever that guest did itself. */
export function backendFaults(reports: readonly FrontendReport[], from = 0): FrontendReport[] {
  return reports
    .slice(from)
    .filter(
      (r) =>
        r.kind === 'event-dropped' ||
        r.kind === 'ring-violation' ||
        r.kind === 'error' ||
        r.kind === 'fatal' ||
        r.kind === 'ignored-response',
    );
}

/** Reports a well-behaved guest should never see. */
export function goodGuestTroubles(reports: readonly FrontendReport[], from = 0): FrontendReport[] {
  return reports
    .slice(from)
    .filter(
      (r) =>
        r.kind === 'timeout' ||
        r.kind === 'disconnected' ||
        (r.kind === 'request' && r.status !== 0) ||
        (r.kind === 'frame' && (r.status !== 0 || r.flip !== 'event')),
    )
    .concat(backendFaults(reports, from));
}

export interface HostileTotals {
  apps: number;
  operations: number;
  requests: number;
  unanswered: number;
  closedUnanswered: number;
  strays: number;
  timeouts: number;
  statuses: Record<string, number>;
  byAttack: Record<string, number>;
}

export function emptyTotals(): HostileTotals {
  return {
    apps: 0,
    operations: 0,
    requests: 0,
    unanswered: 0,
    closedUnanswered: 0,
    strays: 0,
    timeouts: 0,
    statuses: {},
    byAttack: {},
  };
}

/**
 * Totals over every hostile app of a guest: each app's final summary, plus the latest progress
 * of an app still running (a device's app starts again from zero after each reconnection).
 */
export function hostileTotals(reports: readonly FrontendReport[], into: HostileTotals = emptyTotals()): HostileTotals {
  const running = new Map<number, HostileSummary>();
  const add = (s: HostileSummary): void => {
    into.apps++;
    into.operations += s.operations;
    into.requests += s.requests;
    into.unanswered += s.unanswered;
    into.closedUnanswered += s.closedUnanswered;
    into.strays += s.strays;
    into.timeouts += s.timeouts;
    for (const [k, v] of Object.entries(s.statuses)) into.statuses[k] = (into.statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.byAttack)) into.byAttack[k] = (into.byAttack[k] ?? 0) + v;
  };
  for (const r of reports) {
    if (r.kind !== 'hostile-summary') continue;
    if (r.final) {
      running.delete(r.devid);
      add(r);
    } else running.set(r.devid, r);
  }
  for (const s of running.values()) add(s);
  return into;
}

/** Apps whose last report is a progress report: still running. */
export function runningApps(reports: readonly FrontendReport[]): number {
  const last = new Map<number, boolean>();
  for (const r of reports) if (r.kind === 'hostile-summary') last.set(r.devid, r.final);
  return [...last.values()].filter((final) => !final).length;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
