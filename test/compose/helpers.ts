// Guest framebuffers with a pattern whose every pixel is known, and a reference model of what a
// composed output must show, pixel by pixel, written independently of the compositor.
import type { FlipResult, FramebufferDesc, Output, OutputConfig } from '../../src/drm/output.js';
import type { Layout } from '../../src/drm/compose/layout.js';
import { domId } from '../../src/util/ids.js';

let nextFbId = 1;
const XRGB8888 = 0x34325258;

/** An XRGB8888 framebuffer whose pixel (x, y) is (r = x, g = y, b = tag). */
export function patternFb(width: number, height: number, tag: number): FramebufferDesc {
  const pitch = width * 4;
  const bytes = new Uint8Array(pitch * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = y * pitch + x * 4;
      bytes[o] = tag;
      bytes[o + 1] = y & 0xff;
      bytes[o + 2] = x & 0xff;
      bytes[o + 3] = 0x5a;
    }
  return {
    id: nextFbId++,
    width,
    height,
    fourcc: XRGB8888,
    pitch,
    offset: 0,
    buffer: { domid: domId(1), size: bytes.length, bytes },
  };
}

export function flip(out: Output, fb: FramebufferDesc): Promise<FlipResult> {
  return new Promise((resolve) => out.flip(fb, resolve));
}

/** Flips `fb` on `out` and delivers vblanks (`vblank`, as a card would) until the flip is answered. */
export async function flipAtVblanks(vblank: () => void, out: Output, fb: FramebufferDesc): Promise<FlipResult> {
  let done: FlipResult | undefined;
  out.flip(fb, (x) => (done = x));
  for (let i = 0; i < 400 && !done; i++) {
    vblank();
    await new Promise((res) => setTimeout(res, 2));
  }
  if (!done) throw new Error('the flip was not answered within 400 vblanks');
  return done;
}

/** What one guest shows in the reference model: its resolution and configuration (null: off). */
export interface ModelGuest {
  readonly width: number;
  readonly height: number;
  readonly cfg: OutputConfig | null;
}

const BLANK: readonly number[] = [0x20, 0x20, 0x20];
const BLACK: readonly number[] = [0, 0, 0];

/** The RGB the composed output must show at (x, y): the topmost entry covering it decides. */
export function expectedAt(
  layout: Layout,
  guests: ReadonlyMap<string, ModelGuest>,
  x: number,
  y: number,
): readonly number[] {
  for (let i = layout.entries.length - 1; i >= 0; i--) {
    const e = layout.entries[i]!;
    const r = e.rect;
    if (x < r.x || y < r.y || x >= r.x + r.width || y >= r.y + r.height) continue;
    const g = guests.get(e.key);
    if (!g) return BLANK;
    if (!g.cfg) return BLACK;
    const cx = e.scaled ? Math.floor(((x - r.x) * g.width) / r.width) : x - r.x;
    const cy = e.scaled ? Math.floor(((y - r.y) * g.height) / r.height) : y - r.y;
    const c = g.cfg;
    if (cx < c.x || cy < c.y || cx >= c.x + c.width || cy >= c.y + c.height) return BLACK;
    const fx = (c.srcX ?? 0) + cx - c.x;
    const fy = (c.srcY ?? 0) + cy - c.y;
    const o = c.fb.offset + fy * c.fb.pitch + fx * 4;
    const b = c.fb.buffer.bytes;
    return [b[o + 2]!, b[o + 1]!, b[o]!];
  }
  return BLACK;
}

/** The first pixel where `rgba` differs from the model, or undefined when every one matches. */
export function firstMismatch(
  rgba: Uint8Array,
  width: number,
  height: number,
  layout: Layout,
  guests: ReadonlyMap<string, ModelGuest>,
): string | undefined {
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const want = expectedAt(layout, guests, x, y);
      const o = (y * width + x) * 4;
      if (rgba[o] !== want[0] || rgba[o + 1] !== want[1] || rgba[o + 2] !== want[2])
        return `(${x},${y}): got ${[...rgba.subarray(o, o + 3)].join(',')}, want ${want.join(',')}`;
    }
  return undefined;
}
