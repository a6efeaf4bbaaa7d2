// The copy path: guest pixels into one of our XRGB8888 scanout buffers, row by row (the guest's
// pitch is ceil(width*bpp/8), ours is whatever the driver chose), never reading a byte past what
// the guest granted. XRGB8888/ARGB8888 rows are plain copies, every row of a region in one native
// call (native/src/pixel_copy.cc: streaming stores for a frame); the other frontend formats are
// converted. Works on byte views.
import { formatByFourcc } from '../../displif/formats.js';
import { native } from '../../native/addon.js';
import { drawRegion } from '../headless/pixel-convert.js';
import type { Rect } from '../../util/geometry.js';

export interface CopySource {
  /** The guest buffer as mapped. */
  readonly bytes: Uint8Array;
  /** Bytes the guest really granted and declared (min of the mapping and buffer_sz). */
  readonly limit: number;
  /** Offset of the framebuffer's first pixel (data_ofs). */
  readonly offset: number;
  readonly pitch: number;
  readonly fourcc: number;
}

/** An XRGB8888 buffer (B, G, R, X in memory). */
export interface CopyTarget {
  readonly bytes: Uint8Array;
  readonly pitch: number;
  readonly width: number;
  readonly height: number;
}

export interface CopyResult {
  readonly rows: number;
  /** Guest bytes read for those rows (rows × the row's bytes in the guest's format): the copy-path metric. */
  readonly bytes: number;
  /** The guest's buffer ended before the region did (a lying size: shown as far as it goes). */
  readonly truncated: boolean;
}

const XR24 = 0x34325258;
const AR24 = 0x34325241;

/**
 * Copies `src` pixels of rectangle `from` (framebuffer pixels) to (`toX`, `toY`) in `dst`,
 * clipped to dst. Returns the rows written.
 */
export function copyRegion(src: CopySource, from: Rect, dst: CopyTarget, toX: number, toY: number): CopyResult {
  const fmt = formatByFourcc(src.fourcc);
  if (!fmt || toX < 0 || toY < 0) return { rows: 0, bytes: 0, truncated: false };
  const cols = Math.min(from.width, dst.width - toX);
  const rows = Math.min(from.height, dst.height - toY);
  if (cols <= 0 || rows <= 0) return { rows: 0, bytes: 0, truncated: false };
  const limit = Math.min(src.limit, src.bytes.length);
  // YUYV is read in 2-pixel macropixels: start on an even column.
  const fx = fmt.yuv ? from.x & ~1 : from.x;
  const rowBytes = fmt.yuv ? Math.ceil(cols / 2) * 4 : cols * fmt.cpp;
  const raw = src.fourcc === XR24 || src.fourcc === AR24;
  if (raw) {
    // Every row that lies wholly inside what the guest granted, in one call.
    const s0 = src.offset + from.y * src.pitch + fx * fmt.cpp;
    const fit =
      s0 < 0 || src.pitch <= 0 ? 0 : Math.max(0, Math.min(rows, Math.floor((limit - s0 - rowBytes) / src.pitch) + 1));
    const d0 = toY * dst.pitch + toX * 4;
    if (src.pitch >= rowBytes) {
      if (fit > 0) native().copyRows(dst.bytes, d0, dst.pitch, src.bytes, s0, src.pitch, rowBytes, fit);
    } else {
      // Rows overlapping in the source (FB_ATTACH refuses such a pitch; callers here may not): one by one.
      for (let r = 0; r < fit; r++)
        native().copyRows(
          dst.bytes,
          d0 + r * dst.pitch,
          dst.pitch,
          src.bytes,
          s0 + r * src.pitch,
          src.pitch,
          rowBytes,
          1,
        );
    }
    return { rows: fit, bytes: fit * rowBytes, truncated: fit < rows };
  }
  const scratch = new Uint8Array(cols * 4);
  let done = 0;
  for (let r = 0; r < rows; r++) {
    const s = src.offset + (from.y + r) * src.pitch + fx * fmt.cpp;
    if (s < 0 || s + rowBytes > limit) return { rows: done, bytes: done * rowBytes, truncated: true };
    const d = (toY + r) * dst.pitch + toX * 4;
    drawRegion(
      { src: src.bytes.subarray(0, limit), offset: s, pitch: src.pitch, width: cols, height: 1, fourcc: src.fourcc },
      { rgba: scratch, width: cols, height: 1, x: 0, y: 0 },
    );
    for (let i = 0, o = d; i < cols * 4; i += 4, o += 4) {
      dst.bytes[o] = scratch[i + 2]!;
      dst.bytes[o + 1] = scratch[i + 1]!;
      dst.bytes[o + 2] = scratch[i]!;
      dst.bytes[o + 3] = 0xff;
    }
    done++;
  }
  return { rows: done, bytes: done * rowBytes, truncated: false };
}

/** Black, for the borders around a centred picture. */
export function clearTarget(dst: CopyTarget): void {
  dst.bytes.fill(0, 0, Math.min(dst.bytes.length, dst.pitch * dst.height));
}
