// What a KMS output shows, as RGBA, for snapshots, hashes and the viewer: drawn from the guest's
// framebuffer where its picture lands, once per shown frame and only when asked for (a framebuffer
// released while on screen keeps its pages until the screen moves off it, so it can still be drawn).
import { formatByFourcc } from '../../displif/formats.js';
import type { Frame, FramebufferDesc, PlaneLayer } from '../output.js';
import { drawRegion } from '../headless/pixel-convert.js';
import type { Rect } from '../../util/geometry.js';
import type { Placement } from './placement.js';

/** What is on screen: the mode's size, and the guest framebuffer shown where it lands. */
export interface Scene {
  readonly width: number;
  readonly height: number;
  readonly fb: FramebufferDesc | undefined;
  readonly placement: Placement;
  /** Guest framebuffers on the overlay planes, bottom to top, unscaled. */
  readonly layers: readonly PlaneLayer[];
}

export class OutputPicture {
  private sequence = 0;
  private cached: Frame | undefined;

  /** A new frame is on screen (or the screen went off). */
  changed(): void {
    this.sequence++;
  }

  /** The frame for `scene`, drawn at most once per shown frame. */
  frame(scene: Scene): Frame {
    if (this.cached?.sequence === this.sequence) return this.cached;
    this.cached = this.render(scene);
    return this.cached;
  }

  private render(s: Scene): Frame {
    const { width, height } = s;
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    // What the guest framebuffer shows, where it lands (unscaled: a scaled plane is drawn at its origin).
    if (s.fb) draw(rgba, width, height, s.fb, s.placement.src, s.placement.dst);
    for (const l of s.layers) draw(rgba, width, height, l.fb, l.src, l.dst);
    return { width, height, rgba, sequence: this.sequence };
  }
}

function draw(rgba: Uint8Array, width: number, height: number, fb: FramebufferDesc, src: Rect, dst: Rect): void {
  const cpp = formatByFourcc(fb.fourcc)?.cpp ?? 4;
  drawRegion(
    {
      src: fb.buffer.bytes.subarray(0, Math.min(fb.buffer.size, fb.buffer.bytes.length)),
      offset: fb.offset + src.y * fb.pitch + src.x * cpp,
      pitch: fb.pitch,
      width: src.width,
      height: src.height,
      fourcc: fb.fourcc,
    },
    { rgba, width, height, x: dst.x, y: dst.y },
  );
}
