// CPU composition: one region of an output's XRGB8888 buffer redrawn from the layout, bottom to
// top, each guest clipped to its rectangle. Pure: works on byte views. A guest's pixels are read
// only inside the viewport it set and the bytes it granted (copyRegion checks every row).
import { formatByFourcc } from '../../displif/formats.js';
import type { Rect, Size } from '../../util/geometry.js';
import { copyRegion, type CopySource, type CopyTarget } from '../kms/copy.js';
import type { OutputConfig } from '../output.js';
import { intersect, type LayoutEntry } from './layout.js';

/** A rectangle whose guest is not there (yet): dark grey, so the operator sees where it will be. */
export const BLANK_XRGB = 0xff202020;
const BLACK_XRGB = 0xff000000;

/** What one layout entry shows: nothing yet (blank), or a guest connector and its picture, if any. */
export interface SlotPicture {
  /** The connector's resolution: what a scaled entry scales to its rectangle. */
  readonly resolution: Size;
  /** The guest's viewport and framebuffer, or null while its connector is off (black). */
  readonly cfg: OutputConfig | null;
}

export interface ComposeTarget extends CopyTarget {
  /** The same buffer as 32-bit pixels, `stride` of them per row (pitch / 4). */
  readonly pixels: Uint32Array;
  readonly stride: number;
}

export function makeTarget(size: Size): ComposeTarget {
  return targetOver(new Uint8Array(size.width * size.height * 4), size.width * 4, size);
}

/**
 * A target over memory someone else owns (a card's scanout buffer, whose pitch the driver chose):
 * `pitch` a multiple of 4, `bytes` at least pitch × height long and 4-byte aligned.
 */
export function targetOver(bytes: Uint8Array, pitch: number, size: Size): ComposeTarget {
  const stride = pitch / 4;
  return {
    bytes,
    pixels: new Uint32Array(bytes.buffer, bytes.byteOffset, stride * size.height),
    stride,
    pitch,
    width: size.width,
    height: size.height,
  };
}

function fill(t: ComposeTarget, r: Rect, value: number): number {
  for (let y = r.y; y < r.y + r.height; y++) {
    const row = y * t.stride;
    t.pixels.fill(value, row + r.x, row + r.x + r.width);
  }
  return r.width * r.height * 4;
}

/**
 * Redraws `clip` of `t`: black, then every entry bottom to top (blank where its guest is missing;
 * a hole where its picture is on a plane above `t`).
 * Every pixel of `clip` is written once at least; what a picture covers is not filled first.
 * Returns the bytes written into `t`, the composition's cost in the metric's terms.
 */
export function composeRegion(
  t: ComposeTarget,
  clip: Rect,
  entries: readonly LayoutEntry[],
  pictureOf: (key: string) => SlotPicture | undefined,
  /** Entries shown on a plane above this buffer: their picture is not drawn (a hole the plane covers). */
  onPlane?: (key: string) => boolean,
): number {
  const c = intersect(clip, { x: 0, y: 0, width: t.width, height: t.height });
  if (!c) return 0;
  let written = 0;
  // The usual damage is one entry's rectangle: that entry paints all of it, no background needed.
  if (!entries.some((e) => contains(e.rect, c))) written += fill(t, c, BLACK_XRGB);
  for (const e of entries) {
    const r = intersect(c, e.rect);
    if (!r) continue;
    const p = pictureOf(e.key);
    if (!p?.cfg) {
      written += fill(t, r, p ? BLACK_XRGB : BLANK_XRGB);
      continue;
    }
    if (e.scaled) {
      // On a plane, the plane scales it over the whole rectangle: a hole here.
      if (onPlane?.(e.key)) continue;
      // Scaled, the picture covers the rectangle only where the viewport is the whole resolution.
      if (!scaledCovers(p.resolution, p.cfg)) written += fill(t, r, BLACK_XRGB);
      written += drawScaled(t, r, e.rect, p.resolution, p.cfg);
      continue;
    }
    const cover = intersect(r, viewportAt(e.rect, p.cfg));
    for (const part of outside(r, cover)) written += fill(t, part, BLACK_XRGB);
    if (cover && !onPlane?.(e.key)) written += draw1to1(t, cover, e.rect, p.cfg);
  }
  return written;
}

function contains(a: Rect, b: Rect): boolean {
  return b.x >= a.x && b.y >= a.y && b.x + b.width <= a.x + a.width && b.y + b.height <= a.y + a.height;
}

/** The guest's viewport in output pixels, for an entry shown 1:1 at `rect`. */
function viewportAt(rect: Rect, cfg: OutputConfig): Rect {
  return { x: rect.x + cfg.x, y: rect.y + cfg.y, width: cfg.width, height: cfg.height };
}

function scaledCovers(res: Size, cfg: OutputConfig): boolean {
  return cfg.x === 0 && cfg.y === 0 && cfg.width === res.width && cfg.height === res.height;
}

/** `r` without `inner` (inside it), as up to four rectangles. */
function outside(r: Rect, inner: Rect | undefined): Rect[] {
  if (!inner) return [r];
  const parts: Rect[] = [];
  const right = inner.x + inner.width;
  const bottom = inner.y + inner.height;
  if (inner.y > r.y) parts.push({ x: r.x, y: r.y, width: r.width, height: inner.y - r.y });
  if (bottom < r.y + r.height) parts.push({ x: r.x, y: bottom, width: r.width, height: r.y + r.height - bottom });
  if (inner.x > r.x) parts.push({ x: r.x, y: inner.y, width: inner.x - r.x, height: inner.height });
  if (right < r.x + r.width) parts.push({ x: right, y: inner.y, width: r.x + r.width - right, height: inner.height });
  return parts;
}

function sourceOf(cfg: OutputConfig): CopySource {
  const fb = cfg.fb;
  return { bytes: fb.buffer.bytes, limit: fb.buffer.size, offset: fb.offset, pitch: fb.pitch, fourcc: fb.fourcc };
}

/** The guest's viewport at the rectangle's top-left, pixel for pixel, in `r` (inside the viewport). */
function draw1to1(t: ComposeTarget, r: Rect, rect: Rect, cfg: OutputConfig): number {
  const vx = rect.x + cfg.x;
  const vy = rect.y + cfg.y;
  const from = { x: (cfg.srcX ?? 0) + r.x - vx, y: (cfg.srcY ?? 0) + r.y - vy, width: r.width, height: r.height };
  const done = copyRegion(sourceOf(cfg), from, t, r.x, r.y);
  // Rows past the end of what the guest granted: black, never what the buffer held before.
  const missing = r.height - done.rows;
  if (missing > 0) fill(t, { x: r.x, y: r.y + done.rows, width: r.width, height: missing }, BLACK_XRGB);
  return r.width * r.height * 4;
}

/**
 * The connector's whole resolution scaled to the rectangle (nearest pixel), inside `r`: each
 * source row the region needs is converted once into a scratch row, then sampled.
 */
function drawScaled(t: ComposeTarget, r: Rect, rect: Rect, res: Size, cfg: OutputConfig): number {
  if (!formatByFourcc(cfg.fb.fourcc)) return fill(t, r, BLACK_XRGB);
  const scratch = makeTarget({ width: cfg.width, height: 1 });
  const src = sourceOf(cfg);
  const srcX = cfg.srcX ?? 0;
  const srcY = cfg.srcY ?? 0;
  // Output column → viewport column (or -1 where the connector shows black), once per region.
  const cols = new Int32Array(r.width);
  for (let k = 0; k < r.width; k++) {
    const cx = Math.floor(((r.x + k - rect.x) * res.width) / rect.width);
    cols[k] = cx >= cfg.x && cx < cfg.x + cfg.width ? cx - cfg.x : -1;
  }
  let written = 0;
  let loaded = -1;
  for (let y = r.y; y < r.y + r.height; y++) {
    const cy = Math.floor(((y - rect.y) * res.height) / rect.height);
    if (cy < cfg.y || cy >= cfg.y + cfg.height) continue;
    if (cy !== loaded) {
      const got = copyRegion(src, { x: srcX, y: srcY + cy - cfg.y, width: cfg.width, height: 1 }, scratch, 0, 0);
      // A row past the end of what the guest granted: black.
      if (got.rows === 0) scratch.pixels.fill(BLACK_XRGB);
      loaded = cy;
    }
    const row = y * t.stride + r.x;
    for (let k = 0; k < r.width; k++) {
      const sx = cols[k]!;
      if (sx >= 0) t.pixels[row + k] = scratch.pixels[sx]! | BLACK_XRGB;
    }
    written += r.width * 4;
  }
  return written;
}
