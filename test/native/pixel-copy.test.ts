// The addon's row copy (native/src/pixel_copy.cc) against a byte-by-byte model: small copies
// (memcpy) and frame-sized ones (streaming stores, with their unaligned heads and tails), packed
// and strided, at every alignment of both sides; then its refusals of a range outside a view, a
// row longer than its pitch and overlapping regions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { prng } from '../../src/sim/frontend/hostile.js';

function model(
  dst: Uint8Array,
  dOff: number,
  dPitch: number,
  src: Uint8Array,
  sOff: number,
  sPitch: number,
  rowBytes: number,
  rows: number,
): void {
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < rowBytes; i++) dst[dOff + r * dPitch + i] = src[sOff + r * sPitch + i]!;
}

function random(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

void test('copyRows writes exactly the rows a byte-by-byte copy writes, small and frame-sized, at any alignment', () => {
  const rand = prng(0x5c0);
  const cases: [rowBytes: number, rows: number, dPad: number, sPad: number][] = [
    [7, 3, 0, 0], // tiny: memcpy
    [4 * 64, 4, 64, 0], // a cursor into a wider screen
    [7680, 1080, 0, 0], // a 1080p frame, rows end to end: one streamed run
    [3840, 270, 3840, 0], // half-width rows into a full-width screen: streamed row by row
    [4 * 1366, 200, 4 * 2, 4 * 10], // odd pitches on both sides
    [1001, 300, 23, 5], // no alignment anywhere, tails of every length
  ];
  for (const [rowBytes, rows, dPad, sPad] of cases) {
    for (const [dMis, sMis] of [
      [0, 0],
      [1, 3],
      [17, 31],
      [4, 0],
    ] as const) {
      const dPitch = rowBytes + dPad;
      const sPitch = rowBytes + sPad;
      const dOff = 64 + dMis;
      const sOff = 128 + sMis;
      const src = random(rand, sOff + sPitch * rows + 64);
      const got = random(rand, dOff + dPitch * rows + 64);
      const want = got.slice();
      native().copyRows(got, dOff, dPitch, src, sOff, sPitch, rowBytes, rows);
      model(want, dOff, dPitch, src, sOff, sPitch, rowBytes, rows);
      assert.ok(
        Buffer.from(got).equals(Buffer.from(want)),
        `${rowBytes}x${rows} pads ${dPad}/${sPad} at +${dMis}/+${sMis}`,
      );
    }
  }
});

void test('copyRows into a mapping (a dumb buffer is one) from a view at an offset of a larger buffer', () => {
  const rand = prng(0x5c1);
  const m = native().mapAnonymous(8 << 20);
  try {
    const screen = new Uint8Array(m.buffer);
    const whole = random(rand, (8 << 20) + 4096);
    const src = whole.subarray(4096 + 12);
    native().copyRows(screen, 0, 7680, src, 0, 7680, 7680, 1080);
    assert.ok(Buffer.from(screen.subarray(0, 7680 * 1080)).equals(Buffer.from(src.subarray(0, 7680 * 1080))));
    assert.equal(screen[7680 * 1080], 0, 'nothing past the region');
  } finally {
    m.unmap();
  }
});

void test('copyRows refuses a byte outside either view, a row longer than its pitch, and overlap', () => {
  const src = new Uint8Array(1000);
  const dst = new Uint8Array(1000);
  const n = native();
  assert.throws(() => n.copyRows(dst, 0, 100, src, 0, 100, 100, 11), RangeError, 'src too short');
  assert.throws(() => n.copyRows(dst, 901, 100, src, 0, 100, 100, 1), RangeError, 'dst too short');
  assert.throws(
    () => n.copyRows(dst, 0, 100, src.subarray(0, 199), 0, 100, 100, 2),
    RangeError,
    'a view, not its buffer',
  );
  assert.throws(() => n.copyRows(dst, 0, 50, src, 0, 100, 100, 2), RangeError, 'row longer than the dst pitch');
  assert.throws(() => n.copyRows(dst, 0, 100, src, 0, 50, 100, 2), RangeError, 'row longer than the src pitch');
  assert.throws(() => n.copyRows(src, 0, 100, src.subarray(50), 0, 100, 100, 2), RangeError, 'overlap');
  assert.throws(() => n.copyRows(dst, -1, 100, src, 0, 100, 100, 1), RangeError, 'negative offset');
  // A pitch times rows past 2^32 is checked in 64 bits, not wrapped into range.
  assert.throws(() => n.copyRows(dst, 0, 0xffffffff, src, 0, 100, 100, 3), RangeError);
  // Nothing to copy is not an error, and writes nothing.
  n.copyRows(dst, 0, 100, src, 0, 100, 0, 5);
  n.copyRows(dst, 0, 100, src, 0, 100, 100, 0);
  assert.ok(dst.every((b) => b === 0));
});
