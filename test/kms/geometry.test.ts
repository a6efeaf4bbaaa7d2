// Mode choice, centring and scaling, and the row-by-row copy: the pure geometry of the KMS output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DrmModeInfo } from '../../src/native/drm-device.js';
import { describeMode, refreshMilliHz, selectMode, toMode } from '../../src/drm/kms/modes.js';
import { centredPlacement, scaledPlacement } from '../../src/drm/kms/placement.js';
import { clearTarget, copyRegion } from '../../src/drm/kms/copy.js';
import { fourcc } from '../../src/displif/formats.js';

export function mode(w: number, h: number, hz = 60, extra: Partial<DrmModeInfo> = {}): DrmModeInfo {
  const htotal = w + 160;
  const vtotal = h + 45;
  return {
    clock: Math.round((htotal * vtotal * hz) / 1000),
    hdisplay: w,
    hsyncStart: w + 48,
    hsyncEnd: w + 80,
    htotal,
    hskew: 0,
    vdisplay: h,
    vsyncStart: h + 3,
    vsyncEnd: h + 8,
    vtotal,
    vscan: 0,
    vrefresh: hz,
    flags: 0,
    type: 0x40,
    name: `${w}x${h}`,
    ...extra,
  };
}
const PREF = 0x48;

void test('refresh comes from the timings, not the rounded vrefresh', () => {
  const m = { ...mode(1920, 1080), clock: 148500, htotal: 2200, vtotal: 1125, vrefresh: 60 };
  assert.equal(refreshMilliHz(m), 60000);
  const ntsc = { ...m, clock: 148352 };
  assert.equal(refreshMilliHz(ntsc), 59940);
  assert.equal(refreshMilliHz({ ...m, flags: 1 << 4 }), 120000, 'interlaced: fields per second');
  assert.deepEqual(toMode({ ...m, type: PREF }), { width: 1920, height: 1080, refreshMilliHz: 60000, preferred: true });
  assert.equal(describeMode(ntsc), '1920x1080@59.94');
});

void test('exact size wins; among exact ones preferred, then progressive, then nearest 60 Hz', () => {
  const modes = [
    mode(1920, 1080, 60, { type: PREF }),
    mode(1280, 720, 50),
    mode(1280, 720, 60),
    mode(1280, 720, 75),
    mode(800, 600),
  ];
  assert.deepEqual(selectMode(modes, 1280, 720), { how: 'exact', mode: modes[2] });
  const inter = [mode(1920, 1080, 60, { flags: 1 << 4 }), mode(1920, 1080, 30)];
  assert.equal(selectMode(inter, 1920, 1080)?.mode, inter[1], 'progressive before interlaced');
  assert.deepEqual(selectMode(modes, 1024, 768), { how: 'preferred', mode: modes[0] }, 'no 1024x768: preferred');
  const noPref = [mode(1600, 900), mode(640, 480)];
  assert.deepEqual(
    selectMode(noPref, 1024, 768),
    { how: 'preferred', mode: noPref[0] },
    'no preferred flag: the first listed',
  );
  assert.equal(selectMode([], 800, 600), undefined);
});

void test('a smaller guest screen is centred; a larger one is cropped evenly', () => {
  const small = centredPlacement({ x: 0, y: 0, width: 800, height: 600 }, 1920, 1080);
  assert.deepEqual(small, {
    src: { x: 0, y: 0, width: 800, height: 600 },
    dst: { x: 560, y: 240, width: 800, height: 600 },
    scaled: false,
    fullScreen: false,
  });
  const exact = centredPlacement({ x: 0, y: 0, width: 1024, height: 768 }, 1024, 768);
  assert.equal(exact?.fullScreen, true);
  const big = centredPlacement({ x: 0, y: 0, width: 1920, height: 1080 }, 1280, 720);
  assert.deepEqual(big?.src, { x: 320, y: 180, width: 1280, height: 720 });
  assert.deepEqual(big?.dst, { x: 0, y: 0, width: 1280, height: 720 });
  // A viewport inside the guest screen keeps its position relative to the centred screen.
  const inner = centredPlacement({ x: 100, y: 50, width: 300, height: 200 }, 1000, 800);
  assert.deepEqual(inner?.dst, {
    x: 100 + Math.floor((1000 - 400) / 2),
    y: 50 + Math.floor((800 - 250) / 2),
    width: 300,
    height: 200,
  });
  assert.equal(
    centredPlacement({ x: 5000, y: 0, width: 10, height: 10 }, 1280, 720)?.dst.width,
    undefined,
    'nothing visible',
  );
});

void test('scaled to fit keeps the aspect ratio and centres the letterbox', () => {
  const p = scaledPlacement({ x: 0, y: 0, width: 800, height: 600 }, 1920, 1080);
  assert.deepEqual(p?.dst, { x: 240, y: 0, width: 1440, height: 1080 });
  assert.equal(p?.scaled, true);
  const wide = scaledPlacement({ x: 0, y: 0, width: 1280, height: 720 }, 1024, 768);
  assert.deepEqual(wide?.dst, { x: 0, y: 96, width: 1024, height: 576 });
  const same = scaledPlacement({ x: 0, y: 0, width: 1024, height: 768 }, 1024, 768);
  assert.deepEqual([same?.scaled, same?.fullScreen], [false, true]);
});

function guest(
  width: number,
  height: number,
  cpp: number,
  pitch: number,
  offset: number,
  fill: (x: number, y: number) => number[],
) {
  const bytes = new Uint8Array(offset + pitch * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) bytes.set(fill(x, y), offset + y * pitch + x * cpp);
  return bytes;
}

void test('copy honours both pitches and the data offset, row by row', () => {
  // 5x3 XRGB8888 guest, unaligned pitch 20 (ceil(5*32/8)), data_ofs 12; target pitch 64.
  const src = guest(5, 3, 4, 20, 12, (x, y) => [x, y, 0x80, 0]);
  const dst = { bytes: new Uint8Array(64 * 8).fill(0xee), pitch: 64, width: 16, height: 8 };
  clearTarget(dst);
  const r = copyRegion(
    { bytes: src, limit: src.length, offset: 12, pitch: 20, fourcc: fourcc('XR24') },
    { x: 1, y: 1, width: 3, height: 2 },
    dst,
    4,
    2,
  );
  assert.deepEqual(r, { rows: 2, bytes: 2 * 3 * 4, truncated: false });
  const px = (x: number, y: number) => [...dst.bytes.subarray(y * 64 + x * 4, y * 64 + x * 4 + 4)];
  assert.deepEqual(px(4, 2), [1, 1, 0x80, 0]);
  assert.deepEqual(px(6, 3), [3, 2, 0x80, 0]);
  assert.deepEqual(px(7, 3), [0, 0, 0, 0], 'outside the region stays black');
  assert.deepEqual(px(3, 2), [0, 0, 0, 0]);
});

void test('copy never reads past what the guest granted: a short buffer stops at its last whole row', () => {
  const src = guest(4, 4, 4, 16, 0, () => [9, 9, 9, 9]);
  const dst = { bytes: new Uint8Array(16 * 4), pitch: 16, width: 4, height: 4 };
  // The guest claims 4 rows but granted 2.5 rows' worth.
  const r = copyRegion(
    { bytes: src, limit: 40, offset: 0, pitch: 16, fourcc: fourcc('XR24') },
    { x: 0, y: 0, width: 4, height: 4 },
    dst,
    0,
    0,
  );
  assert.deepEqual(r, { rows: 2, bytes: 2 * 16, truncated: true }, 'only the rows read count as copied');
  assert.deepEqual([...dst.bytes.subarray(32)], new Array(32).fill(0));
  const big = copyRegion(
    { bytes: src, limit: 1 << 30, offset: 0, pitch: 16, fourcc: fourcc('XR24') },
    { x: 0, y: 0, width: 4, height: 9 },
    { ...dst, height: 9, bytes: new Uint8Array(16 * 9) },
    0,
    0,
  );
  assert.deepEqual(big, { rows: 4, bytes: 4 * 16, truncated: true }, 'limit is also the mapping length');
});

void test('other frontend formats are converted to XRGB8888', () => {
  // RGB565 pure red, RGB888 blue, YUYV white.
  const dst = () => ({ bytes: new Uint8Array(8 * 4), pitch: 8, width: 2, height: 1 });
  const red = new Uint8Array([0x00, 0xf8, 0x00, 0xf8]);
  const d1 = dst();
  // Copied bytes are the guest's bytes read (its format), not the XRGB8888 bytes written.
  assert.equal(
    copyRegion(
      { bytes: red, limit: 4, offset: 0, pitch: 4, fourcc: fourcc('RG16') },
      { x: 0, y: 0, width: 2, height: 1 },
      d1,
      0,
      0,
    ).bytes,
    4,
  );
  assert.deepEqual([...d1.bytes.subarray(0, 8)], [0, 0, 255, 255, 0, 0, 255, 255]);
  const blue = new Uint8Array([255, 0, 0, 255, 0, 0]);
  const d2 = dst();
  assert.equal(
    copyRegion(
      { bytes: blue, limit: 6, offset: 0, pitch: 6, fourcc: fourcc('RG24') },
      { x: 0, y: 0, width: 2, height: 1 },
      d2,
      0,
      0,
    ).bytes,
    6,
  );
  assert.deepEqual([...d2.bytes.subarray(0, 8)], [255, 0, 0, 255, 255, 0, 0, 255]);
  const white = new Uint8Array([235, 128, 235, 128]);
  const d3 = dst();
  assert.equal(
    copyRegion(
      { bytes: white, limit: 4, offset: 0, pitch: 4, fourcc: fourcc('YUYV') },
      { x: 0, y: 0, width: 2, height: 1 },
      d3,
      0,
      0,
    ).bytes,
    4,
  );
  assert.deepEqual([...d3.bytes.subarray(0, 8)], [255, 255, 255, 255, 255, 255, 255, 255]);
  const unknown = copyRegion(
    { bytes: white, limit: 4, offset: 0, pitch: 4, fourcc: 0x12345678 },
    { x: 0, y: 0, width: 1, height: 1 },
    dst(),
    0,
    0,
  );
  assert.equal(unknown.rows, 0, 'a FourCC outside the allow-list copies nothing');
  assert.equal(unknown.bytes, 0);
});
