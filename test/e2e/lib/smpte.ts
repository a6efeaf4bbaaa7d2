// The SMPTE colour-bar picture that libdrm's modetest draws (its default pattern, XRGB8888): a model
// of where each colour is, so a screendump can be checked pixel by pixel against what the guest drew.
import { pixel, type Pixel, type Rgb } from './picture.js';

const TOP: Pixel[] = [
  [192, 192, 192],
  [192, 192, 0],
  [0, 192, 192],
  [0, 192, 0],
  [192, 0, 192],
  [192, 0, 0],
  [0, 0, 192],
];
const MIDDLE: Pixel[] = [
  [0, 0, 192],
  [19, 19, 19],
  [192, 0, 192],
  [19, 19, 19],
  [0, 192, 192],
  [19, 19, 19],
  [192, 192, 192],
];
const BOTTOM: Pixel[] = [
  [0, 33, 76],
  [255, 255, 255],
  [50, 0, 106],
  [19, 19, 19],
  [9, 9, 9],
  [19, 19, 19],
  [29, 29, 29],
  [19, 19, 19],
];

/** The colour modetest puts at (x, y) of a width x height SMPTE picture (integer maths as in C). */
export function smpteAt(x: number, y: number, width: number, height: number): Pixel {
  const div = (a: number, b: number): number => Math.floor(a / b);
  if (y < div(height * 6, 9)) return TOP[div(x * 7, width)]!;
  if (y < div(height * 7, 9)) return MIDDLE[div(x * 7, width)]!;
  const w57 = div(width * 5, 7);
  if (x < w57) return BOTTOM[div(x * 4, w57)]!;
  if (x < div(width * 6, 7)) return BOTTOM[div((x - w57) * 3, div(width, 7)) + 4]!;
  return BOTTOM[7]!;
}

export interface PatternCheck {
  ok: boolean;
  checked: number;
  mismatches: { x: number; y: number; want: Pixel; got: Pixel }[];
}

/** modetest's "plain" pattern: every byte 0x77. */
export const plainAt = (): Pixel => [0x77, 0x77, 0x77];

export type Model = (x: number, y: number, width: number, height: number) => Pixel;

export function checkSmpte(img: Rgb, width: number, height: number): PatternCheck {
  return checkPicture(img, width, height, smpteAt);
}

/**
 * Compares the width x height picture at the origin of `img` with a model on a grid of points that
 * stay 2 px away from every colour edge of the model, so an unscaled copy must match exactly.
 */
export function checkPicture(img: Rgb, width: number, height: number, model: Model, step = 8): PatternCheck {
  const mismatches: PatternCheck['mismatches'] = [];
  let checked = 0;
  if (img.width < width || img.height < height) {
    return {
      ok: false,
      checked: 0,
      mismatches: [{ x: -1, y: -1, want: [width, height, 0], got: [img.width, img.height, 0] }],
    };
  }
  const same = (a: Pixel, b: Pixel): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
  for (let y = 1; y < height; y += step) {
    for (let x = 1; x < width; x += step) {
      const want = model(x, y, width, height);
      // skip points near an edge of the model (left/right/up/down neighbours differ)
      const edge = [
        [-2, 0],
        [2, 0],
        [0, -2],
        [0, 2],
      ].some(([dx, dy]) => {
        const nx = x + dx!;
        const ny = y + dy!;
        return nx >= 0 && ny >= 0 && nx < width && ny < height && !same(model(nx, ny, width, height), want);
      });
      if (edge) continue;
      checked++;
      const got = pixel(img, x, y);
      if (!same(got, want) && mismatches.length < 2000) mismatches.push({ x, y, want, got });
    }
  }
  return { ok: checked > 0 && mismatches.length === 0, checked, mismatches };
}

export function describeCheck(c: PatternCheck): string {
  if (c.ok) return `${c.checked} sample points match`;
  if (c.checked === 0)
    return `picture too small: need ${c.mismatches[0]?.want.slice(0, 2).join('x')}, got ${c.mismatches[0]?.got.slice(0, 2).join('x')}`;
  const ex = c.mismatches
    .slice(0, 3)
    .map((m) => `(${m.x},${m.y}) want ${m.want.join(',')} got ${m.got.join(',')}`)
    .join('; ');
  return `${c.mismatches.length} of ${c.checked} sample points differ, e.g. ${ex}`;
}
