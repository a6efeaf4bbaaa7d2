// What the kernel says a process costs: CPU time (all its threads) and memory, from /proc. The
// benchmark reads the backend under test from outside, so measuring changes nothing in it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** User + system CPU time of every thread, in milliseconds (clock-tick resolution). */
  readonly cpuMs: number;
  readonly rssKiB: number;
  /** The highest RSS the process ever had. */
  readonly peakRssKiB: number;
}

/** A sample of process `pid`, or undefined once it is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) of proc(5), counted from field 3 here.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuMs: (ticks * 1000) / ticksPerSecond(), rssKiB: kib('VmRSS'), peakRssKiB: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU time spent between two samples, as a share of one core over `wallMs`. */
export function cpuShare(a: ProcSample, b: ProcSample, wallMs: number): number {
  return (b.cpuMs - a.cpuMs) / wallMs;
}
