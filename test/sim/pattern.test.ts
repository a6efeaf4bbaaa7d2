// The guest's picture: drawn in every offered format, read back from the framebuffer and from an
// RGBA conversion, each frame distinguishable; damage is detected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PIXEL_FORMATS, frontendPitch } from '../../src/displif/formats.js';
import { decodeFrameBuffer, decodeFrameRgba, drawFrame, type DrawTarget } from '../../src/sim/frontend/pattern.js';
import { packPixel, unpackPixel } from '../../src/sim/frontend/pixels.js';

function target(format: (typeof PIXEL_FORMATS)[number], width: number, height: number, offset = 0): DrawTarget {
  const pitch = Number(frontendPitch(width, format.bpp));
  return { bytes: new Uint8Array(offset + pitch * height), offset, pitch, width, height, format };
}

void test('every offered format round-trips the frame tag and the bars', () => {
  for (const format of PIXEL_FORMATS) {
    for (const [w, h] of [
      [64, 4],
      [333, 77],
      [1366, 40],
    ] as const) {
      const t = target(format, w, h, 12);
      for (const frame of [0, 1, 7, 0xfffffffe]) {
        drawFrame(t, { frame, domid: 261, connector: 3 });
        const d = decodeFrameBuffer(t);
        assert.deepEqual(
          d,
          { frame, domid: 261 & 0xff, connector: 3, barsOk: true },
          `${format.name} ${w}x${h} frame ${frame}`,
        );
      }
    }
  }
});

void test('a backend that converts to RGBA still decodes; a damaged picture does not pass', () => {
  const format = PIXEL_FORMATS.find((f) => f.name === 'RGB565')!;
  const t = target(format, 200, 50);
  drawFrame(t, { frame: 41, domid: 5, connector: 1 });
  const rgba = new Uint8Array(200 * 50 * 4);
  for (let y = 0; y < 50; y++) {
    for (let x = 0; x < 200; x++) {
      const [r, g, b] = unpackPixel(format, t.bytes, 0, t.pitch, x, y);
      rgba.set([r, g, b, 255], (y * 200 + x) * 4);
    }
  }
  assert.deepEqual(decodeFrameRgba(rgba, 200, 50), { frame: 41, domid: 5, connector: 1, barsOk: true });
  // One flipped code cell breaks the CRC; a stale bar is reported.
  const damaged = rgba.slice();
  for (let y = 0; y < 6; y++) damaged.fill(255, (y * 200 + 100) * 4, (y * 200 + 103) * 4);
  assert.equal(decodeFrameRgba(damaged, 200, 50), undefined);
  const stale = rgba.slice();
  for (let y = 6; y < 50; y++) stale.fill(0, y * 200 * 4, (y * 200 + 25) * 4);
  assert.equal(decodeFrameRgba(stale, 200, 50)?.barsOk, false);
  assert.equal(decodeFrameRgba(new Uint8Array(200 * 50 * 4), 200, 50), undefined, 'a black screen has no tag');
});

void test('pixel packing follows drm_fourcc.h byte order', () => {
  const by = (n: string) => PIXEL_FORMATS.find((f) => f.name === n)!;
  assert.deepEqual([...packPixel(by('XRGB8888'), [1, 2, 3])], [3, 2, 1, 255]);
  assert.deepEqual([...packPixel(by('RGB888'), [1, 2, 3])], [3, 2, 1]);
  assert.deepEqual([...packPixel(by('RGB565'), [255, 0, 0])], [0x00, 0xf8]);
  assert.deepEqual([...packPixel(by('XRGB1555'), [0, 0, 255])], [0x1f, 0x80]);
  assert.deepEqual([...packPixel(by('ARGB4444'), [0, 255, 0])], [0xf0, 0xf0]);
  const yuyv = packPixel(by('YUYV'), [255, 255, 255]);
  assert.deepEqual([yuyv[0], yuyv[2]], [235, 235]);
});
