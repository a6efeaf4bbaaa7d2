// The simulated guest draws the pointer its vkbd received, so the demo (and a snapshot) shows input
// arriving: a 9x9 cross, white with a black outline, centred on the position. It leaves the pixels
// the frame checker reads alone, so a frame with a pointer on it still decodes.
import { isProbePixel, type DrawTarget } from './pattern.js';
import { packPixel } from './pixels.js';

const ARM = 4;

/** Draws the cross at (x, y), clipped to the picture. */
export function drawPointer(t: DrawTarget, x: number, y: number): void {
  if (t.format.cpp < 2 || !Number.isFinite(x) || !Number.isFinite(y)) return; // packed YUV: skip rather than smear chroma
  const white = packPixel(t.format, [255, 255, 255]);
  const black = packPixel(t.format, [0, 0, 0]);
  const put = (px: number, py: number, c: Uint8Array): void => {
    if (px < 0 || py < 0 || px >= t.width || py >= t.height || isProbePixel(t.width, t.height, px, py)) return;
    t.bytes.set(c, t.offset + py * t.pitch + px * t.format.cpp);
  };
  const cx = Math.round(x);
  const cy = Math.round(y);
  for (let d = -ARM - 1; d <= ARM + 1; d++) {
    for (const o of [-1, 1]) {
      put(cx + d, cy + o, black);
      put(cx + o, cy + d, black);
    }
  }
  for (let d = -ARM; d <= ARM; d++) {
    put(cx + d, cy, white);
    put(cx, cy + d, white);
  }
}
