// Guest pixels to 8-bit RGBA, for the frame a headless output shows. Byte orders are DRM's
// (drm_fourcc.h: every format little-endian). Alpha is always written opaque: a primary plane's
// alpha does not reach the screen, and a snapshot shows what a screen would.
import { formatByFourcc } from '../../displif/formats.js';

export interface PixelRegion {
  /** The buffer (a CPU view of guest pages). */
  readonly src: Uint8Array;
  /** Byte offset of the region's first pixel. */
  readonly offset: number;
  readonly pitch: number;
  readonly width: number;
  readonly height: number;
  readonly fourcc: number;
}

export interface RgbaTarget {
  readonly rgba: Uint8Array;
  /** Pixels per row of the target. */
  readonly width: number;
  readonly height: number;
  /** Where the region's top-left pixel lands. */
  readonly x: number;
  readonly y: number;
}

type RowConverter = (src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number) => void;

const expand5 = (v: number): number => (v << 3) | (v >> 2);
const expand6 = (v: number): number => (v << 2) | (v >> 4);
const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v | 0);

const xrgb8888: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i++, s += 4, d += 4) {
    dst[d] = src[s + 2]!;
    dst[d + 1] = src[s + 1]!;
    dst[d + 2] = src[s]!;
    dst[d + 3] = 255;
  }
};

const rgb888: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i++, s += 3, d += 4) {
    dst[d] = src[s + 2]!;
    dst[d + 1] = src[s + 1]!;
    dst[d + 2] = src[s]!;
    dst[d + 3] = 255;
  }
};

const rgb565: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i++, s += 2, d += 4) {
    const v = src[s]! | (src[s + 1]! << 8);
    dst[d] = expand5(v >> 11);
    dst[d + 1] = expand6((v >> 5) & 0x3f);
    dst[d + 2] = expand5(v & 0x1f);
    dst[d + 3] = 255;
  }
};

const xrgb4444: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i++, s += 2, d += 4) {
    const v = src[s]! | (src[s + 1]! << 8);
    dst[d] = ((v >> 8) & 0xf) * 17;
    dst[d + 1] = ((v >> 4) & 0xf) * 17;
    dst[d + 2] = (v & 0xf) * 17;
    dst[d + 3] = 255;
  }
};

const xrgb1555: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i++, s += 2, d += 4) {
    const v = src[s]! | (src[s + 1]! << 8);
    dst[d] = expand5((v >> 10) & 0x1f);
    dst[d + 1] = expand5((v >> 5) & 0x1f);
    dst[d + 2] = expand5(v & 0x1f);
    dst[d + 3] = 255;
  }
};

/** BT.601 limited range, the usual reading of YUYV without colorimetry metadata. */
function yuvToRgb(y: number, u: number, v: number, dst: Uint8Array, d: number): void {
  const c = 1.164 * (y - 16);
  const du = u - 128;
  const dv = v - 128;
  dst[d] = clamp8(c + 1.596 * dv + 0.5);
  dst[d + 1] = clamp8(c - 0.392 * du - 0.813 * dv + 0.5);
  dst[d + 2] = clamp8(c + 2.017 * du + 0.5);
  dst[d + 3] = 255;
}

/** YUYV: byte order Y0 U Y1 V per two pixels; an odd last pixel uses its pair's chroma. */
const yuyv: RowConverter = (src, s, dst, d, n) => {
  for (let i = 0; i < n; i += 2, s += 4, d += 8) {
    const u = src[s + 1]!;
    const v = src[s + 3]!;
    yuvToRgb(src[s]!, u, v, dst, d);
    if (i + 1 < n) yuvToRgb(src[s + 2]!, u, v, dst, d + 4);
  }
};

const CONVERTERS: Readonly<Record<string, RowConverter>> = {
  XRGB8888: xrgb8888,
  ARGB8888: xrgb8888,
  RGB888: rgb888,
  RGB565: rgb565,
  XRGB4444: xrgb4444,
  ARGB4444: xrgb4444,
  XRGB1555: xrgb1555,
  ARGB1555: xrgb1555,
  YUYV: yuyv,
};

/**
 * Draws `region` into `target`, clipped to the target and to the bytes `src` really has: a region
 * that claims more rows than the buffer holds draws what is there and stops, never reading past
 * the view. Returns the rows drawn.
 */
export function drawRegion(region: PixelRegion, target: RgbaTarget): number {
  const fmt = formatByFourcc(region.fourcc);
  if (!fmt) return 0;
  const convert = CONVERTERS[fmt.name];
  if (!convert) return 0;
  const cols = Math.min(region.width, target.width - target.x);
  const rows = Math.min(region.height, target.height - target.y);
  if (cols <= 0 || rows <= 0 || target.x < 0 || target.y < 0) return 0;
  // YUYV reads whole macropixels.
  const rowBytes = fmt.yuv ? Math.ceil(cols / 2) * 4 : cols * fmt.cpp;
  let drawn = 0;
  for (let r = 0; r < rows; r++) {
    const s = region.offset + r * region.pitch;
    if (s < 0 || s + rowBytes > region.src.length) break;
    const d = ((target.y + r) * target.width + target.x) * 4;
    convert(region.src, s, target.rgba, d, cols);
    drawn++;
  }
  return drawn;
}
