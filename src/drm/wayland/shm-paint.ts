// Guest pixels into a window's wl_shm buffer. The buffer is XRGB8888 (a format every compositor
// takes, so a window never has to be remade when the guest's next framebuffer uses another format):
// XRGB8888 and ARGB8888 framebuffers are copied row by row (the alpha byte is ignored by the
// buffer's format), the others are converted through RGBA.
import { formatByFourcc, fourcc } from '../../displif/formats.js';
import { drawRegion } from '../headless/pixel-convert.js';
import { columnOffset } from '../headless/headless-output.js';
import type { Frame, OutputConfig } from '../output.js';

/** wl_shm's own code for XRGB8888 (wl_shm.format enum; other formats use their DRM FourCC). */
export const WL_SHM_FORMAT_XRGB8888 = 1;
const XR24 = fourcc('XR24');
const AR24 = fourcc('AR24');

export interface ShmTarget {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Bytes per row: width * 4. */
  readonly stride: number;
}

/**
 * Paints the viewport of `cfg` (with `fb` in it) into `dst`; `clear` blacks the whole buffer
 * first (a new configuration whose viewport may not cover what the buffer held). Returns the
 * bytes written, the copy's cost as status and benchmarks count it.
 */
export function paintViewport(
  cfg: OutputConfig,
  fb: OutputConfig['fb'],
  dst: ShmTarget,
  clear: boolean,
  scratch: () => Uint8Array,
): number {
  let written = 0;
  if (clear) {
    dst.bytes.fill(0);
    written += dst.bytes.length;
  }
  const cols = Math.min(cfg.width, dst.width - cfg.x);
  const rows = Math.min(cfg.height, dst.height - cfg.y);
  if (cols <= 0 || rows <= 0) return written;
  const src = fb.buffer.bytes;
  const first = fb.offset + (cfg.srcY ?? 0) * fb.pitch + columnOffset(fb.fourcc, cfg.srcX ?? 0);
  if (fb.fourcc === XR24 || fb.fourcc === AR24) {
    const rowBytes = cols * 4;
    for (let r = 0; r < rows; r++) {
      const s = first + r * fb.pitch;
      if (s < 0 || s + rowBytes > src.length) break;
      dst.bytes.set(src.subarray(s, s + rowBytes), (cfg.y + r) * dst.stride + cfg.x * 4);
      written += rowBytes;
    }
    return written;
  }
  if (!formatByFourcc(fb.fourcc)) return written;
  // Through RGBA (the converters the headless output uses), then into the buffer's B, G, R, X order.
  const rgba = scratch();
  const drawn = drawRegion(
    { src, offset: first, pitch: fb.pitch, width: cols, height: rows, fourcc: fb.fourcc },
    { rgba, width: cols, height: rows, x: 0, y: 0 },
  );
  const out = dst.bytes;
  for (let r = 0; r < drawn; r++) {
    let s = r * cols * 4;
    let d = (cfg.y + r) * dst.stride + cfg.x * 4;
    for (let c = 0; c < cols; c++, s += 4, d += 4) {
      out[d] = rgba[s + 2]!;
      out[d + 1] = rgba[s + 1]!;
      out[d + 2] = rgba[s]!;
      out[d + 3] = 255;
    }
    written += cols * 4;
  }
  return written;
}

/** What a buffer holds, as RGBA: the window's picture, for snapshots and the viewer. */
export function shmFrame(src: ShmTarget, sequence: number): Frame {
  const rgba = new Uint8Array(src.width * src.height * 4);
  drawRegion(
    { src: src.bytes, offset: 0, pitch: src.stride, width: src.width, height: src.height, fourcc: XR24 },
    { rgba, width: src.width, height: src.height, x: 0, y: 0 },
  );
  return { width: src.width, height: src.height, rgba, sequence };
}
