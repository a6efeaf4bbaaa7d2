// Every process the benchmark starts, and every simulated host directory it makes, is registered
// here, so that however the benchmark ends (done, failed, Ctrl-C, SIGTERM) none outlives it: a
// vdispld left running would keep retrying its XenStore connection, and a host directory in
// /dev/shm holds every guest's memory file.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => process.exit(code));
  }
}

/** Tracks `child` until it exits. */
export function track<C extends ChildProcess>(child: C): C {
  install();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Removes `dir` if the benchmark exits before the returned function is called. */
export function removeOnExit(dir: string): () => void {
  install();
  dirs.add(dir);
  return () => void dirs.delete(dir);
}
