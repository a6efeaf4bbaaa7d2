// A guest connector's own picture in a layout, as an output of its own would show it: its
// viewport at its resolution, black around it, unscaled and unclipped by its rectangle. The
// viewer shows it beside the composed output (a per-connector view). Pure: reads the guest's
// pages where they are, inside the viewport and bytes the backend validated.
import { columnOffset } from '../headless/headless-output.js';
import { drawRegion } from '../headless/pixel-convert.js';
import type { Frame } from '../output.js';
import type { SlotPicture } from './blit.js';

/** The frame of `p`, or undefined while the connector is off. */
export function slotFrame(p: SlotPicture, sequence: number): Frame | undefined {
  const cfg = p.cfg;
  if (!cfg) return undefined;
  const { width, height } = p.resolution;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
  const fb = cfg.fb;
  const offset = fb.offset + (cfg.srcY ?? 0) * fb.pitch + columnOffset(fb.fourcc, cfg.srcX ?? 0);
  drawRegion(
    { src: fb.buffer.bytes, offset, pitch: fb.pitch, width: cfg.width, height: cfg.height, fourcc: fb.fourcc },
    { rgba, width, height, x: cfg.x, y: cfg.y },
  );
  return { width, height, rgba, sequence };
}
