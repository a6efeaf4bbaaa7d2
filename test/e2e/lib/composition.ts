// What a layout should put on dom0's screen, compared with a screendump pixel by pixel: each
// area (a guest's rectangle) must hold one of its pictures whole, and every pixel outside the
// areas the background. Pure.
import { pixel, type Pixel, type Rgb } from './picture.js';

/** A picture in an area's own coordinates (0,0 at the area's top-left). */
export type AreaPicture = (x: number, y: number) => Pixel;

export interface Area {
  readonly name: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** What the area may show; every pixel of it must match one and the same of these. */
  readonly pictures: readonly { readonly name: string; readonly at: AreaPicture }[];
}

export interface AreaResult {
  readonly name: string;
  /** The picture it matched best (the one with fewest differing pixels). */
  readonly picture: string;
  readonly pixels: number;
  readonly mismatches: number;
  readonly first?: { readonly x: number; readonly y: number; readonly want: Pixel; readonly got: Pixel };
}

export interface CompositionCheck {
  readonly ok: boolean;
  /** Pixels compared: the whole screen. */
  readonly pixels: number;
  readonly size: { readonly width: number; readonly height: number };
  readonly areas: readonly AreaResult[];
  readonly background: AreaResult;
}

const same = (a: Pixel, b: Pixel): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

/** Every pixel of `img` against the areas (a later area over an earlier one) and `background` elsewhere. */
export function checkComposition(
  img: Rgb,
  size: { width: number; height: number },
  areas: readonly Area[],
  background: Pixel,
): CompositionCheck {
  const inside = (a: Area, x: number, y: number): boolean =>
    x >= a.x && y >= a.y && x < a.x + a.width && y < a.y + a.height;
  const areaResults = areas.map((a, i) => {
    const tries = a.pictures.map((p) => {
      let mismatches = 0;
      let first: AreaResult['first'];
      let pixels = 0;
      for (let y = a.y; y < Math.min(a.y + a.height, img.height); y++)
        for (let x = a.x; x < Math.min(a.x + a.width, img.width); x++) {
          // a later area covers this one here
          if (areas.slice(i + 1).some((b) => inside(b, x, y))) continue;
          pixels++;
          const want = p.at(x - a.x, y - a.y);
          const got = pixel(img, x, y);
          if (same(want, got)) continue;
          mismatches++;
          first ??= { x, y, want, got };
        }
      return { name: a.name, picture: p.name, pixels, mismatches, ...(first ? { first } : {}) };
    });
    return tries.reduce((best, t) => (t.mismatches < best.mismatches ? t : best));
  });
  let bgPixels = 0;
  let bgMismatches = 0;
  let bgFirst: AreaResult['first'];
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      if (areas.some((a) => inside(a, x, y))) continue;
      bgPixels++;
      const got = pixel(img, x, y);
      if (same(got, background)) continue;
      bgMismatches++;
      bgFirst ??= { x, y, want: background, got };
    }
  const bg: AreaResult = {
    name: 'background',
    picture: 'background',
    pixels: bgPixels,
    mismatches: bgMismatches,
    ...(bgFirst ? { first: bgFirst } : {}),
  };
  const sizeOk = img.width === size.width && img.height === size.height;
  return {
    ok: sizeOk && bgMismatches === 0 && areaResults.every((r) => r.mismatches === 0 && r.pixels > 0),
    pixels: img.width * img.height,
    size: { width: img.width, height: img.height },
    areas: areaResults,
    background: bg,
  };
}

export function describeComposition(c: CompositionCheck, want: { width: number; height: number }): string {
  const one = (r: AreaResult): string =>
    `${r.name}: ${r.picture} ${r.pixels - r.mismatches}/${r.pixels}` +
    (r.first
      ? ` (first at ${r.first.x},${r.first.y} want ${r.first.want.join(',')} got ${r.first.got.join(',')})`
      : '');
  const size =
    c.size.width === want.width && c.size.height === want.height
      ? `screen ${c.size.width}x${c.size.height}`
      : `screen ${c.size.width}x${c.size.height}, want ${want.width}x${want.height}`;
  return `${size}, ${c.pixels} pixels: ${[...c.areas, c.background].map(one).join('; ')}`;
}
