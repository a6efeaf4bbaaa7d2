// What `vdispld demo` starts and how it summarises: each guest's plan, and the percentile its
// report uses. Pure, so the command line can name them without loading the simulator.

/** What each demo guest is: its xl vdispl line and the pixel formats its connectors draw in. */
export interface GuestPlan {
  readonly vdispl: string;
  readonly formats: readonly string[];
  readonly beAlloc: boolean;
  /** Its xl vkb line: a keyboard and pointer for the main connector. */
  readonly vkb: string;
}

const VKB = 'backend-type=linux,unique-id=main';

export function guestPlan(k: number): GuestPlan {
  return k % 2 === 1
    ? { vdispl: 'connectors=main:640x480;side:480x270', formats: ['XRGB8888', 'RGB565'], beAlloc: false, vkb: VKB }
    : { vdispl: 'be-alloc=1,connectors=main:640x360', formats: ['XRGB8888'], beAlloc: true, vkb: VKB };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
