// A layout: which guest connectors one dom0 output shows, where, how big and in which order. The
// output side knows an entry's key only as a name (the backend's `GUEST/UNIQUE_ID`); what it checks
// here is geometry: every rectangle on the output, sizes in range. Pure.
import type { Rect, Size } from '../../util/geometry.js';
import type { Mode } from '../output.js';

export interface LayoutEntry {
  /** Which guest connector (the backend's canonical `GUEST/UNIQUE_ID`). */
  readonly key: string;
  /** Where it goes on the output; its picture never leaves this rectangle. */
  readonly rect: Rect;
  /** true: the connector's resolution is scaled to the rectangle; false: 1:1 from its top-left, clipped. */
  readonly scaled: boolean;
}

/** Entries bottom to top: a later entry is drawn over an earlier one where they overlap. */
export interface Layout {
  readonly entries: readonly LayoutEntry[];
}

/** The most entries one output's layout may hold (each is a slot composed per frame). */
export const MAX_LAYOUT_ENTRIES = 16;
/** Largest coordinate or size accepted (KMS limits are below). */
export const MAX_LAYOUT_COORD = 16384;

/** Why `layout` cannot be shown on an output of `size`, or undefined when it can. */
export function layoutProblem(layout: Layout, size: Size): string | undefined {
  for (const e of layout.entries) {
    const r = e.rect;
    if (r.x + r.width > size.width || r.y + r.height > size.height)
      return `${e.key} at ${describeRect(r)} does not fit the output's ${size.width}x${size.height}`;
  }
  return undefined;
}

/**
 * The mode a layout is composed at on an output offering `modes`: the preferred one (the panel's
 * native size) when the layout fits it, else the smallest mode that holds every rectangle, as the
 * operator wrote the layout in pixels of some screen. Undefined when no mode holds it.
 */
export function modeForLayout(layout: Layout, modes: readonly Mode[]): Mode | undefined {
  const preferred = modes.find((m) => m.preferred) ?? modes[0];
  if (preferred && layoutProblem(layout, preferred) === undefined) return preferred;
  let best: Mode | undefined;
  for (const m of modes) {
    if (layoutProblem(layout, m) !== undefined) continue;
    // The first of equal sizes: drivers list their best first.
    if (!best || m.width * m.height < best.width * best.height) best = m;
  }
  return best;
}

/** Why no mode of `modes` can show `layout` (measured against the preferred one), or undefined. */
export function layoutUnfit(layout: Layout, modes: readonly Mode[]): string | undefined {
  if (modeForLayout(layout, modes)) return undefined;
  const preferred = modes.find((m) => m.preferred) ?? modes[0];
  if (!preferred) return 'the output has no mode';
  const why = layoutProblem(layout, preferred)!;
  return modes.length > 1 ? `${why} (nor any of its ${modes.length} modes)` : why;
}

/** `WxH+X+Y`, the form layouts are written in. */
export function describeRect(r: Rect): string {
  return `${r.width}x${r.height}+${r.x}+${r.y}`;
}

/** The part of `a` inside `b`, or undefined when they do not meet. */
export function intersect(a: Rect, b: Rect): Rect | undefined {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const r = Math.min(a.x + a.width, b.x + b.width);
  const d = Math.min(a.y + a.height, b.y + b.height);
  return r > x && d > y ? { x, y, width: r - x, height: d - y } : undefined;
}

export function sameLayout(a: Layout | undefined, b: Layout | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.entries.length !== b.entries.length) return false;
  return a.entries.every((e, i) => {
    const f = b.entries[i]!;
    return (
      e.key === f.key &&
      e.scaled === f.scaled &&
      e.rect.x === f.rect.x &&
      e.rect.y === f.rect.y &&
      e.rect.width === f.rect.width &&
      e.rect.height === f.rect.height
    );
  });
}
