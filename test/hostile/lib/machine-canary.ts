// The machine's stalls, measured by a process that does nothing else (probe/canary.ts), so that a
// criterion as tight as two frame periods can tell the program's stalls from the machine's.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CANARY = fileURLToPath(new URL('../probe/canary.ts', import.meta.url));

/** [wall-clock ms when the process ran again, ms it did not run]. */
export type Stall = readonly [number, number];

export class MachineCanary {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<MachineCanary> {
    const child = fork(CANARY, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the machine canary exited (${code}) before it was ready`)));
    });
    return new MachineCanary(child);
  }

  /** Every stall seen so far. */
  stalls(): Promise<Stall[]> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as Stall[]));
      this.child.send('report');
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}

/**
 * How much of the span [end - ms, end] some process stood still in (the union of the stalls given
 * that overlap it). A span longer than a limit by no more than this was spent waiting on them.
 */
export function machineShare(stalls: readonly Stall[], end: number, ms: number): number {
  const start = end - ms;
  const parts = stalls
    .map(([at, gap]) => [Math.max(start, at - gap), Math.min(end, at)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let sum = 0;
  let reach = start;
  for (const [s, e] of parts) {
    if (e <= reach) continue;
    sum += e - Math.max(s, reach);
    reach = e;
  }
  return sum;
}
