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

/** Where `vdispld demo --compose` shows the guests: one headless output, and the layout on it. */
export const COMPOSE_OUTPUT = 'screen0';

/**
 * Every demo guest's connectors on one output, 1:1: each guest a row, its connectors left to right
 * (the first 16, a layout's most). Guests are named guest1, guest2 ... by the simulated toolstack.
 */
export function composePlan(guests: number): { width: number; height: number; layout: string } {
  const entries: string[] = [];
  let width = 0;
  let y = 0;
  for (let k = 1; k <= guests; k++) {
    let x = 0;
    let rowHeight = 0;
    for (const c of guestPlan(k)
      .vdispl.replace(/^.*connectors=/, '')
      .split(';')) {
      const [uid, size] = c.split(':') as [string, string];
      const [w, h] = size.split('x').map(Number) as [number, number];
      if (entries.length < 16) entries.push(`guest${k}/${uid}@${w}x${h}+${x}+${y}`);
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    width = Math.max(width, x);
    y += rowHeight;
  }
  return { width, height: y, layout: entries.join(',') };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
