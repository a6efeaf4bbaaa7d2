// The picture a simulated guest draws: every frame is different and checkable from a snapshot.
//
//   rows [0, codeH):  64 cells, black or white: a 64-bit tag
//                     magic 0xA5 | frame (u32) | domid & 0xff | connector | CRC-8 of the 7 bytes
//   rows [codeH, H):  8 vertical colour bars; bar i shows BAR_COLOURS[(i + frame) % 8]
//
// Cells are read at their centres by luminance and bars by the nearest of the eight colours, so
// the code survives every offered format (4-bit channels, YUYV's shared chroma) and a backend's
// conversion to RGBA. Pure: no I/O.
import type { PixelFormat } from '../../displif/formats.js';
import { packPixel, pixelsPerPack, unpackPixel, type Rgb } from './pixels.js';

export const BAR_COLOURS: readonly Rgb[] = [
  [255, 255, 255],
  [255, 255, 0],
  [0, 255, 255],
  [0, 255, 0],
  [255, 0, 255],
  [255, 0, 0],
  [0, 0, 255],
  [0, 0, 0],
];

const MAGIC = 0xa5;
const CELLS = 64;
/** Smallest picture that holds the tag: one pixel per cell, two rows of bars. */
export const MIN_PATTERN_WIDTH = CELLS;
export const MIN_PATTERN_HEIGHT = 4;

export interface FrameTag {
  readonly frame: number;
  /** domid & 0xff. */
  readonly domid: number;
  readonly connector: number;
}

export interface DecodedFrame extends FrameTag {
  /** Every bar shows the colour the frame number says it must. */
  readonly barsOk: boolean;
}

function crc8(bytes: readonly number[]): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function tagBytes(tag: FrameTag): number[] {
  const f = tag.frame >>> 0;
  const body = [MAGIC, f >>> 24, (f >>> 16) & 0xff, (f >>> 8) & 0xff, f & 0xff, tag.domid & 0xff, tag.connector & 0xff];
  return [...body, crc8(body)];
}

function layout(width: number, height: number): { cellW: number; codeH: number } {
  return { cellW: Math.floor(width / CELLS), codeH: Math.max(1, Math.min(16, Math.floor(height / 8))) };
}

export interface DrawTarget {
  readonly bytes: Uint8Array;
  /** Where the image starts in `bytes` (DBUF data_ofs). */
  readonly offset: number;
  readonly pitch: number;
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
}

/** Draws frame `tag.frame`. Throws if the picture is smaller than MIN_PATTERN_WIDTH × MIN_PATTERN_HEIGHT. */
export function drawFrame(t: DrawTarget, tag: FrameTag): void {
  if (t.width < MIN_PATTERN_WIDTH || t.height < MIN_PATTERN_HEIGHT) {
    throw new RangeError(
      `pattern needs at least ${MIN_PATTERN_WIDTH}x${MIN_PATTERN_HEIGHT}, got ${t.width}x${t.height}`,
    );
  }
  const { cellW, codeH } = layout(t.width, t.height);
  const bits = tagBytes(tag);
  const white = packPixel(t.format, [255, 255, 255]);
  const black = packPixel(t.format, [0, 0, 0]);
  // Build the first code row and the first bar row once, then copy them down.
  // Rows are built a whole macropixel wide (YUYV) and copied at the image's exact width.
  const rowBytes = t.width * t.format.cpp;
  const built = Math.ceil(t.width / pixelsPerPack(t.format)) * white.length;
  const codeRow = new Uint8Array(built);
  fillSpan(codeRow, t.format, 0, t.width, black);
  for (let c = 0; c < CELLS; c++) {
    const bit = (bits[c >> 3]! >> (7 - (c & 7))) & 1;
    if (bit) fillSpan(codeRow, t.format, c * cellW, (c + 1) * cellW, white);
  }
  const barRow = new Uint8Array(built);
  for (let i = 0; i < 8; i++) {
    const colour = packPixel(t.format, BAR_COLOURS[(i + tag.frame) % 8]!);
    fillSpan(barRow, t.format, Math.floor((i * t.width) / 8), Math.floor(((i + 1) * t.width) / 8), colour);
  }
  for (let y = 0; y < t.height; y++) {
    t.bytes.set((y < codeH ? codeRow : barRow).subarray(0, rowBytes), t.offset + y * t.pitch);
  }
}

/** Fills pixels [x0, x1) of one row. YUYV pixels get their own luma and share chroma pairwise. */
function fillSpan(row: Uint8Array, format: PixelFormat, x0: number, x1: number, pack: Uint8Array): void {
  if (pixelsPerPack(format) === 2) {
    for (let x = x0; x < x1; x++) {
      const base = (x & ~1) * 2;
      row[base + ((x & 1) === 0 ? 0 : 2)] = pack[0]!;
      row[base + 1] = pack[1]!;
      row[base + 3] = pack[3]!;
    }
    return;
  }
  for (let x = x0; x < x1; x++) row.set(pack, x * pack.length);
}

/**
 * The pixels decodeFrame reads (the code rows and the bars' sample points): what is drawn over the
 * pattern (the guest's pointer) leaves them alone, so a frame stays decodable with a pointer on it.
 */
export function isProbePixel(width: number, height: number, x: number, y: number): boolean {
  const { codeH } = layout(width, height);
  if (y < codeH) return true;
  if (y !== codeH + Math.floor((height - codeH) / 2)) return false;
  for (let i = 0; i < 8; i++) if (x === Math.floor(((2 * i + 1) * width) / 16)) return true;
  return false;
}

/** Reads a picture through `pixel(x, y)`; undefined when no valid tag is there. */
export function decodeFrame(
  width: number,
  height: number,
  pixel: (x: number, y: number) => Rgb,
): DecodedFrame | undefined {
  if (width < MIN_PATTERN_WIDTH || height < MIN_PATTERN_HEIGHT) return undefined;
  const { cellW, codeH } = layout(width, height);
  const bytes = new Array<number>(8).fill(0);
  const cy = Math.floor(codeH / 2);
  for (let c = 0; c < CELLS; c++) {
    const [r, g, b] = pixel(c * cellW + Math.floor(cellW / 2), cy);
    if (0.299 * r + 0.587 * g + 0.114 * b > 127) bytes[c >> 3]! |= 1 << (7 - (c & 7));
  }
  if (bytes[0] !== MAGIC || crc8(bytes.slice(0, 7)) !== bytes[7]) return undefined;
  const frame = ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
  const by = codeH + Math.floor((height - codeH) / 2);
  let barsOk = true;
  for (let i = 0; i < 8; i++) {
    const x = Math.floor(((2 * i + 1) * width) / 16);
    if (nearestColour(pixel(x, by)) !== (i + frame) % 8) barsOk = false;
  }
  return { frame, domid: bytes[5]!, connector: bytes[6]!, barsOk };
}

/** Decodes an RGBA snapshot (4 bytes per pixel, rows `stride` bytes apart). */
export function decodeFrameRgba(
  rgba: Uint8Array,
  width: number,
  height: number,
  stride = width * 4,
): DecodedFrame | undefined {
  return decodeFrame(width, height, (x, y) => {
    const o = y * stride + x * 4;
    return [rgba[o]!, rgba[o + 1]!, rgba[o + 2]!];
  });
}

/** Decodes a framebuffer in its own format, as the guest wrote it. */
export function decodeFrameBuffer(t: DrawTarget): DecodedFrame | undefined {
  return decodeFrame(t.width, t.height, (x, y) => unpackPixel(t.format, t.bytes, t.offset, t.pitch, x, y));
}

function nearestColour([r, g, b]: Rgb): number {
  let best = 0;
  let bestD = Infinity;
  BAR_COLOURS.forEach(([cr, cg, cb], i) => {
    const d = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}
