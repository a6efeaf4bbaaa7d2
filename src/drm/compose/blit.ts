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
  /** The same buffer as 32-bit pixels (pitch = width * 4). */
  readonly pixels: Uint32Array;
}

export function makeTarget(size: Size): ComposeTarget {
  const bytes = new Uint8Array(size.width * size.height * 4);
  return {
    bytes,
    pixels: new Uint32Array(bytes.buffer, bytes.byteOffset, size.width * size.height),
    pitch: size.width * 4,
    width: size.width,
    height: size.height,
  };
}

function fill(t: ComposeTarget, r: Rect, value: number): void {
  for (let y = r.y; y < r.y + r.height; y++) {
    const row = y * t.width;
    t.pixels.fill(value, row + r.x, row + r.x + r.width);
  }
}

/**
 * Redraws `clip` of `t`: black, then every entry bottom to top (blank where its guest is missing).
 * Returns the bytes written into `t`, the composition's cost in the metric's terms.
 */
export function composeRegion(
  t: ComposeTarget,
  clip: Rect,
  entries: readonly LayoutEntry[],
  pictureOf: (key: string) => SlotPicture | undefined,
): number {
  const c = intersect(clip, { x: 0, y: 0, width: t.width, height: t.height });
  if (!c) return 0;
  fill(t, c, BLACK_XRGB);
  let written = c.width * c.height * 4;
  for (const e of entries) {
    const r = intersect(c, e.rect);
    if (!r) continue;
    const p = pictureOf(e.key);
    fill(t, r, p ? BLACK_XRGB : BLANK_XRGB);
    written += r.width * r.height * 4;
    if (p?.cfg) written += e.scaled ? drawScaled(t, r, e.rect, p.resolution, p.cfg) : draw1to1(t, r, e.rect, p.cfg);
  }
  return written;
}

function sourceOf(cfg: OutputConfig): CopySource {
  const fb = cfg.fb;
  return { bytes: fb.buffer.bytes, limit: fb.buffer.size, offset: fb.offset, pitch: fb.pitch, fourcc: fb.fourcc };
}

/** The guest's viewport at the rectangle's top-left, pixel for pixel, inside `r`. */
function draw1to1(t: ComposeTarget, r: Rect, rect: Rect, cfg: OutputConfig): number {
  const vx = rect.x + cfg.x;
  const vy = rect.y + cfg.y;
  const i = intersect(r, { x: vx, y: vy, width: cfg.width, height: cfg.height });
  if (!i) return 0;
  const from = { x: (cfg.srcX ?? 0) + i.x - vx, y: (cfg.srcY ?? 0) + i.y - vy, width: i.width, height: i.height };
  const done = copyRegion(sourceOf(cfg), from, t, i.x, i.y);
  return done.rows * i.width * 4;
}

/**
 * The connector's whole resolution scaled to the rectangle (nearest pixel), inside `r`: each
 * source row the region needs is converted once into a scratch row, then sampled.
 */
function drawScaled(t: ComposeTarget, r: Rect, rect: Rect, res: Size, cfg: OutputConfig): number {
  if (!formatByFourcc(cfg.fb.fourcc)) return 0;
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
      if (got.rows === 0) break;
      loaded = cy;
    }
    const row = y * t.width + r.x;
    for (let k = 0; k < r.width; k++) {
      const sx = cols[k]!;
      if (sx >= 0) t.pixels[row + k] = scratch.pixels[sx]! | BLACK_XRGB;
    }
    written += r.width * 4;
  }
  return written;
}
