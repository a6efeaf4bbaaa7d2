// Layouts as dom0's configuration writes them: `layouts.<output> = ENTRY[,ENTRY...]`, each ENTRY
// `GUEST/UNIQUE_ID@WxH+X+Y` (the connector 1:1 from the rectangle's top-left, clipped to it) or
// `GUEST/UNIQUE_ID@WxH+X+Y:scaled` (its whole resolution scaled to the rectangle), bottom to top.
// GUEST names the guest as a connector mapping does (domain name, UUID or domid), never by
// anything the guest writes. Pure: a value is parsed and checked whole, or refused with one line
// naming the key and the value.
import {
  MAX_LAYOUT_COORD,
  MAX_LAYOUT_ENTRIES,
  describeRect,
  type Layout,
  type LayoutEntry,
} from '../drm/compose/layout.js';
import { canonicalMappingKey } from './output-map.js';

const ENTRY_FORM = 'GUEST/UNIQUE_ID@WxH+X+Y[:scaled] entries separated by commas';
const ENTRY_HELP = `expected ${ENTRY_FORM}, e.g. vm1/id0@960x540+0+0`;
const OUTPUT_RE = /^[\x21-\x3c\x3e-\x7e]{1,64}$/;
const GEOMETRY_RE = /^(\d{1,5})x(\d{1,5})\+(\d{1,5})\+(\d{1,5})(:scaled)?$/;

/** The error a refused layout value gives: one line naming the key and the value. */
export class LayoutError extends Error {
  constructor(output: string, value: string, why: string) {
    super(`layouts.${output} = ${JSON.stringify(value.slice(0, 200))}: ${why}`);
    this.name = 'LayoutError';
  }
}

/** Whether `name` can be a layout's output (a DRM connector or headless output name). */
export function isLayoutOutput(name: string): boolean {
  return OUTPUT_RE.test(name);
}

/** Parses the value of `layouts.<output>`. */
export function parseLayout(output: string, value: string): Layout {
  const fail = (why: string): never => {
    throw new LayoutError(output, value, why);
  };
  if (!isLayoutOutput(output)) fail('the output name must be 1-64 printable characters without "="');
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) fail(ENTRY_HELP);
  if (items.length > MAX_LAYOUT_ENTRIES) fail(`${items.length} entries, at most ${MAX_LAYOUT_ENTRIES}`);
  const entries: LayoutEntry[] = [];
  for (const item of items) {
    const at = item.lastIndexOf('@');
    const key = at > 0 ? canonicalMappingKey(item.slice(0, at)) : undefined;
    const g = at > 0 ? GEOMETRY_RE.exec(item.slice(at + 1)) : null;
    if (key === undefined || !g) return fail(`${JSON.stringify(item.slice(0, 140))}: ${ENTRY_HELP}`);
    const [width, height, x, y] = [g[1], g[2], g[3], g[4]].map(Number) as [number, number, number, number];
    const rect = { x, y, width, height };
    if (width < 1 || height < 1 || x + width > MAX_LAYOUT_COORD || y + height > MAX_LAYOUT_COORD)
      fail(
        `${key} at ${describeRect(rect)}: sizes 1..${MAX_LAYOUT_COORD}, inside ${MAX_LAYOUT_COORD}x${MAX_LAYOUT_COORD}`,
      );
    if (entries.some((e) => e.key === key)) fail(`${key} is named twice`);
    entries.push({ key, rect, scaled: g[5] !== undefined });
  }
  return { entries };
}

/** Parses the command line's `OUTPUT=ENTRY[,ENTRY...]`; returns [output, layout]. */
export function parseLayoutOption(s: string): [string, Layout] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new Error(`layout ${JSON.stringify(s.slice(0, 140))}: expected OUTPUT=${ENTRY_FORM}`);
  const output = s.slice(0, eq);
  return [output, parseLayout(output, s.slice(eq + 1))];
}

/** The value a layout is written as (what status and the config report show). */
export function formatLayout(l: Layout): string {
  return l.entries.map((e) => `${e.key}@${describeRect(e.rect)}${e.scaled ? ':scaled' : ''}`).join(',');
}

/**
 * Which output's layout names a connector already named by another's, in `layouts` (output →
 * layout): a connector is shown in one place. Returns the line for the later output, or undefined.
 */
export function layoutConflict(layouts: ReadonlyMap<string, Layout>): string | undefined {
  const where = new Map<string, string>();
  for (const [output, l] of [...layouts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const e of l.entries) {
      const other = where.get(e.key);
      if (other !== undefined)
        return `layouts.${output} = ${JSON.stringify(formatLayout(l))}: ${e.key} is already in layouts.${other}`;
      where.set(e.key, output);
    }
  }
  return undefined;
}
