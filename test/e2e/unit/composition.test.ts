import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkComposition, describeComposition, type Area } from '../lib/composition.js';
import type { Pixel, Rgb } from '../lib/picture.js';

const BLACK: Pixel = [0, 0, 0];
const GREY: Pixel = [0x20, 0x20, 0x20];

function screen(width: number, height: number, at: (x: number, y: number) => Pixel): Rgb {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(at(x, y), (y * width + x) * 3);
  return { width, height, data };
}

const stripes = (x: number): Pixel => (x % 2 ? [255, 0, 0] : [0, 0, 255]);
const AREAS: Area[] = [
  { name: 'a', x: 1, y: 1, width: 4, height: 2, pictures: [{ name: 'stripes', at: (x) => stripes(x) }] },
  { name: 'b', x: 6, y: 0, width: 2, height: 3, pictures: [{ name: 'grey', at: () => GREY }] },
];
const good = (x: number, y: number): Pixel =>
  x >= 1 && x < 5 && y >= 1 && y < 3 ? stripes(x - 1) : x >= 6 && y < 3 ? GREY : BLACK;

void test('every pixel is compared: each area with its picture, the rest with the background', () => {
  const c = checkComposition(screen(8, 4, good), { width: 8, height: 4 }, AREAS, BLACK);
  assert.equal(c.ok, true, describeComposition(c, { width: 8, height: 4 }));
  assert.equal(c.pixels, 32);
  assert.deepEqual(
    c.areas.map((a) => a.pixels),
    [8, 6],
  );
  assert.equal(c.background.pixels, 18);
});

void test('one pixel off, in an area or outside, fails and is named', () => {
  const inA = checkComposition(
    screen(8, 4, (x, y) => (x === 2 && y === 2 ? BLACK : good(x, y))),
    { width: 8, height: 4 },
    AREAS,
    BLACK,
  );
  assert.equal(inA.ok, false);
  assert.deepEqual(inA.areas[0]!.first, { x: 2, y: 2, want: [255, 0, 0], got: BLACK });
  const outside = checkComposition(
    screen(8, 4, (x, y) => (x === 0 && y === 3 ? GREY : good(x, y))),
    { width: 8, height: 4 },
    AREAS,
    BLACK,
  );
  assert.equal(outside.ok, false);
  assert.equal(outside.background.mismatches, 1);
  assert.match(
    describeComposition(outside, { width: 8, height: 4 }),
    /background: .* \(first at 0,3 want 0,0,0 got 32,32,32\)/,
  );
});

void test('an area may show one of several pictures, but one whole', () => {
  const either: Area[] = [
    {
      ...AREAS[0]!,
      pictures: [
        { name: 'stripes', at: (x) => stripes(x) },
        { name: 'grey', at: () => GREY },
      ],
    },
    AREAS[1]!,
  ];
  const grey = (x: number, y: number): Pixel => (x >= 1 && x < 5 && y >= 1 && y < 3 ? GREY : good(x, y));
  const c = checkComposition(screen(8, 4, grey), { width: 8, height: 4 }, either, BLACK);
  assert.equal(c.ok, true);
  assert.equal(c.areas[0]!.picture, 'grey');
  const mixed = (x: number, y: number): Pixel => (x >= 1 && x < 3 && y >= 1 && y < 3 ? GREY : good(x, y));
  assert.equal(checkComposition(screen(8, 4, mixed), { width: 8, height: 4 }, either, BLACK).ok, false);
});

void test('a screen of another size fails', () => {
  const c = checkComposition(screen(8, 4, good), { width: 8, height: 5 }, AREAS, BLACK);
  assert.equal(c.ok, false);
  assert.match(describeComposition(c, { width: 8, height: 5 }), /screen 8x4, want 8x5/);
});
