// The pixel formats the Linux frontend offers (xen_drm_front_conn.c plane_formats): single plane,
// linear, no modifiers. This is also the FB_ATTACH allow-list: any other FourCC is refused.

/** DRM FourCC: four ASCII characters, first in the low byte (drm_fourcc.h `fourcc_code`). */
export function fourcc(code: string): number {
  if (code.length !== 4) throw new RangeError(`fourcc: need 4 characters, got ${JSON.stringify(code)}`);
  return (
    (code.charCodeAt(0) | (code.charCodeAt(1) << 8) | (code.charCodeAt(2) << 16) | (code.charCodeAt(3) << 24)) >>> 0
  );
}

/** Printable form of any u32 FourCC for logs: "XR24", or "0x00000007" when it is not ASCII. */
export function fourccToString(code: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = (code >>> (8 * i)) & 0xff;
    if (c < 0x20 || c > 0x7e) return `0x${(code >>> 0).toString(16).padStart(8, '0')}`;
    s += String.fromCharCode(c);
  }
  return s;
}

export interface PixelFormat {
  /** The DRM_FORMAT_* name without the prefix. */
  readonly name: string;
  readonly fourcc: number;
  /** Bits per pixel as the frontend reports it in SET_CONFIG (cpp * 8). */
  readonly bpp: number;
  /** Bytes per pixel of the single plane. */
  readonly cpp: number;
  readonly hasAlpha: boolean;
  readonly yuv: boolean;
}

function fmt(name: string, code: string, cpp: number, hasAlpha: boolean, yuv = false): PixelFormat {
  return Object.freeze({ name, fourcc: fourcc(code), bpp: cpp * 8, cpp, hasAlpha, yuv });
}

export const PIXEL_FORMATS: readonly PixelFormat[] = Object.freeze([
  fmt('RGB565', 'RG16', 2, false),
  fmt('RGB888', 'RG24', 3, false),
  fmt('XRGB8888', 'XR24', 4, false),
  fmt('ARGB8888', 'AR24', 4, true),
  fmt('XRGB4444', 'XR12', 2, false),
  fmt('ARGB4444', 'AR12', 2, true),
  fmt('XRGB1555', 'XR15', 2, false),
  fmt('ARGB1555', 'AR15', 2, true),
  // A 2x1 macropixel of 4 bytes: 2 bytes per pixel on average, so the pitch rule holds.
  fmt('YUYV', 'YUYV', 2, false, true),
]);

const BY_FOURCC = new Map(PIXEL_FORMATS.map((f) => [f.fourcc, f]));
const BY_NAME = new Map(PIXEL_FORMATS.map((f) => [f.name, f]));

export function formatByFourcc(code: number): PixelFormat | undefined {
  return BY_FOURCC.get(code >>> 0);
}

export function formatByName(name: string): PixelFormat | undefined {
  return BY_NAME.get(name);
}

/** The bpp values SET_CONFIG can legitimately carry (cpp * 8 of some allowed format). */
export const SCANOUT_BPPS: ReadonlySet<number> = new Set(PIXEL_FORMATS.map((f) => f.bpp));

/**
 * The frontend's dumb-buffer pitch, `DIV_ROUND_UP(width * bpp, 8)`, with no alignment. FB_ATTACH
 * carries no pitch, so the backend must derive the very same number from the display buffer.
 * Computed in 64-bit: width and bpp are guest-controlled u32s.
 */
export function frontendPitch(width: number, bpp: number): bigint {
  return (BigInt(width) * BigInt(bpp) + 7n) / 8n;
}

/**
 * Bytes a `width` x `height` image of `cpp` bytes per pixel needs in a buffer starting at
 * `dataOfs` with rows `pitch` apart: the last row need not be padded to a full pitch.
 * 0 for an empty image. Everything in 64-bit arithmetic.
 */
export function imageExtent(dataOfs: number, pitch: bigint, width: number, height: number, cpp: number): bigint {
  if (width === 0 || height === 0) return 0n;
  return BigInt(dataOfs) + pitch * BigInt(height - 1) + BigInt(width) * BigInt(cpp);
}
