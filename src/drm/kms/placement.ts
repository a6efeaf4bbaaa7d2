// Where a guest's picture lands on a real mode. The guest sees a screen of its connector's size and
// places its framebuffer in it (SET_CONFIG x, y, width, height). That guest screen is centred in
// the mode (cropped evenly when the mode is smaller); optionally scaled to fit, aspect kept, when a
// plane can scale. Pure integer geometry.
import type { Rect, Size, SourcedRect } from '../../util/geometry.js';

export interface Placement {
  /** The part of the framebuffer shown, in framebuffer pixels. */
  readonly src: Rect;
  /** Where it lands on the CRTC, in mode pixels. */
  readonly dst: Rect;
  /** Whether src and dst differ in size. */
  readonly scaled: boolean;
  /** Whether dst covers the whole mode from (0,0) with an unscaled src of the mode's size. */
  readonly fullScreen: boolean;
}

/**
 * The guest screen is taken as the smallest one holding the viewport (x + width, y + height): in
 * practice the connector's resolution, since the Linux frontend sets x = y = 0 and the full size.
 */
export function guestScreen(v: SourcedRect): Size {
  return { width: v.x + v.width, height: v.y + v.height };
}

/** Unscaled: centre the guest screen in the mode and clip the viewport to what is visible. */
export function centredPlacement(v: SourcedRect, modeW: number, modeH: number): Placement | undefined {
  const screen = guestScreen(v);
  const offX = Math.floor((modeW - screen.width) / 2);
  const offY = Math.floor((modeH - screen.height) / 2);
  // The viewport in mode coordinates, before clipping.
  const x0 = offX + v.x;
  const y0 = offY + v.y;
  const x1 = Math.max(x0, 0);
  const y1 = Math.max(y0, 0);
  const x2 = Math.min(x0 + v.width, modeW);
  const y2 = Math.min(y0 + v.height, modeH);
  if (x2 <= x1 || y2 <= y1) return undefined;
  const src = { x: (v.srcX ?? 0) + x1 - x0, y: (v.srcY ?? 0) + y1 - y0, width: x2 - x1, height: y2 - y1 };
  const dst = { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
  return {
    src,
    dst,
    scaled: false,
    fullScreen: dst.x === 0 && dst.y === 0 && dst.width === modeW && dst.height === modeH,
  };
}

/** Scaled to fit: the guest screen as large as the mode allows with its aspect ratio, centred. */
export function scaledPlacement(v: SourcedRect, modeW: number, modeH: number): Placement | undefined {
  const screen = guestScreen(v);
  if (screen.width <= 0 || screen.height <= 0 || v.width <= 0 || v.height <= 0) return undefined;
  // Integer-exact aspect fit: compare cross products instead of dividing.
  const fitWidth = modeW * screen.height <= modeH * screen.width;
  const outW = fitWidth ? modeW : Math.floor((modeH * screen.width) / screen.height);
  const outH = fitWidth ? Math.floor((modeW * screen.height) / screen.width) : modeH;
  const offX = Math.floor((modeW - outW) / 2);
  const offY = Math.floor((modeH - outH) / 2);
  const dst = {
    x: offX + Math.floor((v.x * outW) / screen.width),
    y: offY + Math.floor((v.y * outH) / screen.height),
    width: Math.max(1, Math.floor((v.width * outW) / screen.width)),
    height: Math.max(1, Math.floor((v.height * outH) / screen.height)),
  };
  const src = { x: v.srcX ?? 0, y: v.srcY ?? 0, width: v.width, height: v.height };
  const scaled = dst.width !== src.width || dst.height !== src.height;
  return {
    src,
    dst,
    scaled,
    fullScreen: !scaled && dst.x === 0 && dst.y === 0 && dst.width === modeW && dst.height === modeH,
  };
}
