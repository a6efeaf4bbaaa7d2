// Pixel formats against drm_fourcc.h, and the frontend's pitch rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  PIXEL_FORMATS,
  SCANOUT_BPPS,
  formatByFourcc,
  fourcc,
  fourccToString,
  frontendPitch,
  imageExtent,
} from '../../src/displif/formats.js';

void test('the nine formats the Linux frontend offers, with the codes of drm_fourcc.h', () => {
  assert.deepEqual(
    PIXEL_FORMATS.map((f) => f.name),
    ['RGB565', 'RGB888', 'XRGB8888', 'ARGB8888', 'XRGB4444', 'ARGB4444', 'XRGB1555', 'ARGB1555', 'YUYV'],
  );
  const header = readFileSync('/usr/include/libdrm/drm_fourcc.h', 'utf8');
  for (const f of PIXEL_FORMATS) {
    const m = new RegExp(`#define DRM_FORMAT_${f.name}\\s+fourcc_code\\('(.)', '(.)', '(.)', '(.)'\\)`).exec(header);
    assert.ok(m, `DRM_FORMAT_${f.name} in drm_fourcc.h`);
    assert.equal(f.fourcc, fourcc(m.slice(1).join('')), f.name);
    assert.equal(formatByFourcc(f.fourcc), f);
    assert.equal(f.bpp, f.cpp * 8);
  }
  assert.equal(fourcc('XR24'), 0x34325258);
  assert.deepEqual([...SCANOUT_BPPS].sort(), [16, 24, 32]);
});

void test('fourccToString never prints raw guest bytes', () => {
  assert.equal(fourccToString(fourcc('YUYV')), 'YUYV');
  assert.equal(fourccToString(7), '0x00000007');
  assert.equal(fourccToString(0xffffffff), '0xffffffff');
});

void test('pitch is ceil(width * bpp / 8), unaligned, in 64-bit arithmetic', () => {
  assert.equal(frontendPitch(1366, 24), 4098n);
  assert.equal(frontendPitch(1920, 32), 7680n);
  assert.equal(frontendPitch(3, 1), 1n);
  assert.equal(frontendPitch(0xffffffff, 0xffffffff), (0xffffffffn * 0xffffffffn + 7n) / 8n);
  // The last row need not be padded to the pitch.
  assert.equal(imageExtent(0, 4098n, 1366, 768, 3), 4098n * 767n + 1366n * 3n);
  assert.equal(imageExtent(100, 10n, 0, 5, 4), 0n);
});
