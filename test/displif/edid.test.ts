// Synthesised EDIDs are judged by edid-decode (Debian package edid-decode), the reference
// conformance checker, across the whole range of resolutions a Linux guest can use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildEdid, edidChecksumsOk, preferredTiming, refreshRate } from '../../src/displif/edid.js';
import { xorshift32 } from './helpers.js';

function edidDecode(edid: Uint8Array): { status: number | null; out: string } {
  const r = spawnSync('edid-decode', ['--check'], { input: edid, timeout: 10_000, encoding: 'utf8' });
  if (r.error)
    throw new Error(
      `edid-decode could not run (${r.error.message}); install the Debian package edid-decode (scripts/setup.sh does)`,
    );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const FIXED: Array<[number, number]> = [
  [1920, 1080],
  [1366, 768],
  [1280, 1024],
  [1024, 768],
  [800, 600],
  [640, 480],
  [2560, 1600],
  [4095, 2047],
  [3840, 2047],
  [1, 1],
  [1, 2047],
  [4095, 1],
  [333, 777],
  [2048, 2047],
];

void test('edid-decode --check passes every EDID without warnings, from 1x1 to 4095x2047', () => {
  const rnd = xorshift32(0x5eed);
  const sizes = [...FIXED];
  for (let i = 0; i < 16; i++) sizes.push([1 + (rnd() % 4095), 1 + (rnd() % 2047)]);
  for (const [width, height] of sizes) {
    const edid = buildEdid({ width, height, serial: width * 65536 + height });
    const { status, out } = edidDecode(edid);
    const where = `${width}x${height}:\n${out}`;
    assert.equal(status, 0, where);
    assert.match(out, /EDID conformity: PASS/, where);
    assert.doesNotMatch(out, /^(Warnings|Failures):/m, where);
    assert.match(out, new RegExp(`DTD 1:\\s+${width}x${height}\\s`), where);
    assert.match(out, /Display Product Name: 'vdispld'/, where);
  }
});

void test('one 128-byte block with a correct checksum and the exact mode at 60 Hz', () => {
  for (const [width, height] of FIXED) {
    const edid = buildEdid({ width, height });
    assert.equal(edid.length, 128, 'no extension block needed within the descriptor limits');
    assert.equal(edid[126], 0, 'extension count');
    assert.ok(edidChecksumsOk(edid));
    const t = preferredTiming(edid);
    assert.ok(t);
    assert.equal(t.hActive, width);
    assert.equal(t.vActive, height);
    assert.ok(Math.abs(refreshRate(t) - 60) < 0.05, `${width}x${height} at ${refreshRate(t)} Hz`);
    assert.ok(t.pixelClock10kHz >= 1000, 'at least 10 MHz');
  }
  const broken = buildEdid({ width: 800, height: 600 });
  broken[60]! ^= 1;
  assert.equal(edidChecksumsOk(broken), false);
  assert.equal(preferredTiming(broken), undefined);
});

void test('identity fields: manufacturer, name and serial are where EDID puts them', () => {
  const edid = buildEdid({
    width: 1024,
    height: 768,
    manufacturer: 'ABC',
    productName: 'screen-two',
    serial: 0xdeadbeef,
    productCode: 0x1234,
  });
  const { out } = edidDecode(edid);
  assert.match(out, /Manufacturer: ABC/);
  assert.match(out, /Model: 4660/);
  assert.match(out, /Serial Number: 3735928559/);
  assert.match(out, /Display Product Name: 'screen-two'/);
  assert.match(out, /Display Product Serial Number: 'DEADBEEF'/);
  assert.deepEqual(buildEdid({ width: 1024, height: 768 }), buildEdid({ width: 1024, height: 768 }), 'deterministic');
});

void test('what an EDID base block cannot describe is refused', () => {
  for (const [width, height] of [
    [0, 600],
    [800, 0],
    [4096, 600],
    [1.5, 2],
    [4095, 4095],
  ]) {
    assert.throws(() => buildEdid({ width: width!, height: height! }), RangeError, `${width}x${height}`);
  }
  assert.throws(() => buildEdid({ width: 800, height: 600, manufacturer: 'abc' }), RangeError);
  assert.throws(() => buildEdid({ width: 800, height: 600, productName: 'fourteen chars' }), RangeError);
});
