// Shared set-up for the simulator's tests: a scratch directory on tmpfs and a hypervisor in it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimHypervisor } from '../../src/sim/hv/hypervisor.js';

export function scratchDir(tag: string): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(join(base, `vdispld-test-${tag}-`));
}

export async function withHypervisor<T>(
  tag: string,
  fn: (hv: SimHypervisor, dir: string) => Promise<T>,
  opts: { maptrackLimit?: number } = {},
): Promise<T> {
  const dir = scratchDir(tag);
  const hv = new SimHypervisor(dir, opts.maptrackLimit);
  try {
    await hv.createDomain({ domid: 0, ramPages: 1024 });
    return await fn(hv, dir);
  } finally {
    await hv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `cond` until true; rejects after `ms` (a bound, not a speed assertion). */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
