import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodePpm, pixel, readPng, writePng } from '../lib/picture.js';

const ppm = (header: string, body: number[]): Uint8Array => new Uint8Array([...Buffer.from(header, 'latin1'), ...body]);

void test('PPM as QEMU writes it: header, then RGB rows', () => {
  const img = decodePpm(ppm('P6\n2 1\n255\n', [1, 2, 3, 4, 5, 6]));
  assert.equal(img.width, 2);
  assert.deepEqual(pixel(img, 1, 0), [4, 5, 6]);
});

void test('PPM comments and odd whitespace are skipped', () => {
  const img = decodePpm(ppm('P6 # made by hand\n1  1\t255\n', [9, 8, 7]));
  assert.deepEqual(pixel(img, 0, 0), [9, 8, 7]);
});

void test('PPM that is truncated or not P6/255 is refused', () => {
  assert.throws(() => decodePpm(ppm('P6\n2 2\n255\n', [1, 2, 3])), /truncated/);
  assert.throws(() => decodePpm(ppm('P3\n1 1\n255\n', [1, 2, 3])), /unsupported/);
  assert.throws(() => decodePpm(ppm('P6\n1 1\n65535\n', [1, 2, 3, 4, 5, 6])), /unsupported/);
});

void test('PNG written and read back keeps every pixel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-png-'));
  try {
    const data = new Uint8Array(3 * 2 * 3).map((_, i) => i * 7);
    writePng(join(dir, 'a.png'), { width: 3, height: 2, data });
    const back = readPng(join(dir, 'a.png'));
    assert.equal(back.width, 3);
    assert.deepEqual([...back.data], [...data]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
