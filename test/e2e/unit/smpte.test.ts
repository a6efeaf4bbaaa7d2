import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Rgb } from '../lib/picture.js';
import { checkPicture, checkSmpte, plainAt, smpteAt } from '../lib/smpte.js';

function render(width: number, height: number, canvasW = width, canvasH = height): Rgb {
  const data = new Uint8Array(canvasW * canvasH * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(smpteAt(x, y, width, height), (y * canvasW + x) * 3);
  }
  return { width: canvasW, height: canvasH, data };
}

void test('the model puts modetest colours where a real bochs screendump had them', () => {
  // seen on dom0's screen (1024x768) through QMP: grey at the origin, yellow in bar 2
  assert.deepEqual(smpteAt(0, 0, 1024, 768), [192, 192, 192]);
  assert.deepEqual(smpteAt(256, 192, 1024, 768), [192, 192, 0]);
  assert.deepEqual(smpteAt(1023, 0, 1024, 768), [0, 0, 192]);
  // middle band starts at 6/9 of the height, bottom band at 7/9
  assert.deepEqual(smpteAt(0, 400, 800, 600), [0, 0, 192]);
  assert.deepEqual(smpteAt(150, 500, 800, 600), [255, 255, 255]);
  assert.deepEqual(smpteAt(799, 599, 800, 600), [19, 19, 19]);
});

void test('a faithful copy passes, also inside a larger screen', () => {
  assert.equal(checkSmpte(render(800, 600), 800, 600).ok, true);
  const big = checkSmpte(render(800, 600, 1024, 768), 800, 600);
  assert.equal(big.ok, true);
  assert.ok(big.checked > 5000);
});

void test('one wrong sample point inside a bar fails, and says where', () => {
  const img = render(640, 480);
  const x = 41;
  const y = 41; // on the sampling grid, inside the grey bar
  img.data.set([0, 0, 0], (y * 640 + x) * 3);
  const c = checkSmpte(img, 640, 480);
  assert.equal(c.ok, false);
  assert.deepEqual(c.mismatches[0], { x, y, want: [192, 192, 192], got: [0, 0, 0] });
});

void test('a swapped channel order (BGR) fails', () => {
  const img = render(320, 240);
  for (let i = 0; i < img.data.length; i += 3) [img.data[i], img.data[i + 2]] = [img.data[i + 2]!, img.data[i]!];
  assert.equal(checkSmpte(img, 320, 240).ok, false);
});

void test('a screen smaller than the picture fails without reading past it', () => {
  const c = checkSmpte(render(640, 480), 800, 600);
  assert.equal(c.ok, false);
  assert.equal(c.checked, 0);
});

void test('the plain model matches only a uniform 0x77 picture', () => {
  const img: Rgb = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(0x77) };
  assert.equal(checkPicture(img, 64, 64, plainAt).ok, true);
  assert.equal(checkPicture(render(64, 64), 64, 64, plainAt).ok, false);
});
