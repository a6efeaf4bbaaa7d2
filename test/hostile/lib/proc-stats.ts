// What a process costs, read from /proc the way an operator would (ps, top, ls /proc/PID/fd):
// CPU time, resident memory and open file descriptors. Parsing is pure and separate from reading,
// so the parsers are unit-tested on fixed text.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  /** user + system CPU time in seconds. */
  readonly cpuSeconds: number;
  readonly rssKiB: number;
  readonly fds: number;
}

/** Clock ticks per second for /proc/PID/stat times; 100 on every Linux this runs on (USER_HZ). */
export const USER_HZ = 100;

/** utime + stime (fields 14 and 15) of /proc/PID/stat, in seconds. The command name may hold spaces and parentheses. */
export function parseStatCpuSeconds(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('/proc/PID/stat: no command name');
  // After ") " come field 3 (state) onwards: utime is field 14, so index 11 here.
  const rest = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('/proc/PID/stat: no utime/stime');
  return (utime + stime) / USER_HZ;
}

/** VmRSS of /proc/PID/status in KiB. */
export function parseStatusRssKiB(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error('/proc/PID/status: no VmRSS');
  return Number(m[1]);
}

export function sampleProcess(pid: number): ProcSample {
  return {
    cpuSeconds: parseStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    rssKiB: parseStatusRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8')),
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

/** CPU seconds of this whole machine so far (all cores, all processes): the denominator of a share. */
export function machineCpuSeconds(procStat: string = readFileSync('/proc/stat', 'utf8')): {
  busy: number;
  total: number;
} {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat: no cpu line');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / USER_HZ, total: total / USER_HZ };
}
