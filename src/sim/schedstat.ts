// How long the calling thread waited for a CPU while runnable (Linux schedstat, second field): the
// part of a stall that was the machine's (other processes had the CPUs), not the program's work.
// The simulated guests report it with their flips; the hostile campaigns' probes with each stall.
import { openSync, readSync } from 'node:fs';

let fd: number | undefined | null;
const buf = Buffer.alloc(128);

/** Cumulative run-queue wait of this thread in ms, or undefined where schedstat is not readable. */
export function runqueueWaitMs(): number | undefined {
  if (fd === null) return undefined;
  try {
    fd ??= openSync('/proc/thread-self/schedstat', 'r');
    const n = readSync(fd, buf, 0, buf.length, 0);
    const wait = buf.toString('latin1', 0, n).split(' ')[1];
    return wait === undefined ? undefined : Number(wait) / 1e6;
  } catch {
    // No schedstat here (kernel without it, no /proc): say so once by never trying again.
    fd = null;
    return undefined;
  }
}
