// The simulated guest's pointer drawn over the pattern: visible where the guest received it, and
// never over the pixels the frame checker reads, so a frame with the pointer anywhere still decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatByName } from '../../src/displif/formats.js';
import { decodeFrameBuffer, drawFrame } from '../../src/sim/frontend/pattern.js';
import { drawPointer } from '../../src/sim/frontend/pointer.js';

void test('the pointer shows where it is and leaves every frame decodable, wherever it is', () => {
  const format = formatByName('XRGB8888')!;
  const width = 640;
  const height = 480;
  const t = { bytes: new Uint8Array(width * height * 4), offset: 0, pitch: width * 4, width, height, format };
  for (let y = 0; y < height; y += 7) {
    for (let x = 0; x < width; x += 5) {
      drawFrame(t, { frame: 9, domid: 1, connector: 0 });
      drawPointer(t, x, y);
      const d = decodeFrameBuffer(t);
      assert.ok(d && d.frame === 9 && d.barsOk, `pointer at ${x},${y}`);
    }
  }
  drawFrame(t, { frame: 9, domid: 1, connector: 0 });
  drawPointer(t, 100, 100);
  assert.deepEqual(
    [...t.bytes.subarray((100 * width + 100) * 4, (100 * width + 100) * 4 + 3)],
    [255, 255, 255],
    'white at the centre',
  );
  assert.deepEqual(
    [...t.bytes.subarray((101 * width + 103) * 4, (101 * width + 103) * 4 + 3)],
    [0, 0, 0],
    'black outline beside the arm',
  );
});
