// Pixel packing for the formats xen-drm-front offers (drm_fourcc.h layouts, little-endian in
// memory), both ways: the simulated guest draws with pack, tests and decoders read back with
// unpack. Pure.
import type { PixelFormat } from '../../displif/formats.js';

export type Rgb = readonly [number, number, number];

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** BT.601 limited range, what a YUYV camera or video decoder produces. */
export function rgbToYuv(r: number, g: number, b: number): [number, number, number] {
  const y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
  const u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
  const v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
  return [clamp8(y), clamp8(u), clamp8(v)];
}

export function yuvToRgb(y: number, u: number, v: number): [number, number, number] {
  const c = y - 16;
  const d = u - 128;
  const e = v - 128;
  return [clamp8(1.164 * c + 1.596 * e), clamp8(1.164 * c - 0.392 * d - 0.813 * e), clamp8(1.164 * c + 2.017 * d)];
}

/**
 * The bytes of one pixel of colour `rgb` (opaque). YUYV packs two pixels in 4 bytes: its
 * "pixel" here is that 4-byte macropixel of two equal pixels.
 */
export function packPixel(format: PixelFormat, rgb: Rgb): Uint8Array {
  const [r, g, b] = rgb;
  switch (format.name) {
    case 'RGB565': {
      const v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
      return Uint8Array.of(v & 0xff, v >> 8);
    }
    case 'RGB888':
      return Uint8Array.of(b, g, r);
    case 'XRGB8888':
    case 'ARGB8888':
      return Uint8Array.of(b, g, r, 0xff);
    case 'XRGB4444':
    case 'ARGB4444': {
      const v = (0xf << 12) | ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
      return Uint8Array.of(v & 0xff, v >> 8);
    }
    case 'XRGB1555':
    case 'ARGB1555': {
      const v = 0x8000 | ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
      return Uint8Array.of(v & 0xff, v >> 8);
    }
    case 'YUYV': {
      const [y, u, v] = rgbToYuv(r, g, b);
      return Uint8Array.of(y, u, y, v);
    }
    default:
      throw new RangeError(`no pixel packing for ${format.name}`);
  }
}

/** Pixels one packPixel() result covers: 2 for YUYV, else 1. */
export function pixelsPerPack(format: PixelFormat): number {
  return format.yuv ? 2 : 1;
}

/** Reads pixel (x, y) of an image whose rows are `pitch` bytes apart, starting at `offset`. */
export function unpackPixel(
  format: PixelFormat,
  bytes: Uint8Array,
  offset: number,
  pitch: number,
  x: number,
  y: number,
): Rgb {
  const row = offset + y * pitch;
  const expand = (v: number, bits: number): number => Math.round((v * 255) / ((1 << bits) - 1));
  switch (format.name) {
    case 'RGB565': {
      const v = bytes[row + x * 2]! | (bytes[row + x * 2 + 1]! << 8);
      return [expand(v >> 11, 5), expand((v >> 5) & 0x3f, 6), expand(v & 0x1f, 5)];
    }
    case 'RGB888': {
      const o = row + x * 3;
      return [bytes[o + 2]!, bytes[o + 1]!, bytes[o]!];
    }
    case 'XRGB8888':
    case 'ARGB8888': {
      const o = row + x * 4;
      return [bytes[o + 2]!, bytes[o + 1]!, bytes[o]!];
    }
    case 'XRGB4444':
    case 'ARGB4444': {
      const v = bytes[row + x * 2]! | (bytes[row + x * 2 + 1]! << 8);
      return [expand((v >> 8) & 0xf, 4), expand((v >> 4) & 0xf, 4), expand(v & 0xf, 4)];
    }
    case 'XRGB1555':
    case 'ARGB1555': {
      const v = bytes[row + x * 2]! | (bytes[row + x * 2 + 1]! << 8);
      return [expand((v >> 10) & 0x1f, 5), expand((v >> 5) & 0x1f, 5), expand(v & 0x1f, 5)];
    }
    case 'YUYV': {
      const o = row + (x & ~1) * 2;
      const y = bytes[o + ((x & 1) === 0 ? 0 : 2)]!;
      return yuvToRgb(y, bytes[o + 1]!, bytes[o + 3]!);
    }
    default:
      throw new RangeError(`no pixel unpacking for ${format.name}`);
  }
}
