// Event encodings: byte-exact slots for one event of each kind (hand-written from the header's
// diagrams), round trips, refused values, and a random-byte decoder run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, encodeEvent, type KbdEvent } from '../../src/kbdif/events.js';
import { IN_EVENT_SIZE } from '../../src/kbdif/constants.js';
import { xorshift32 } from '../displif/helpers.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const slot = (bytes: Record<number, number>): string => {
  const s = new Uint8Array(IN_EVENT_SIZE);
  for (const [o, v] of Object.entries(bytes)) s[Number(o)] = v;
  return hexOf(s);
};

void test('each event kind is laid out as the header draws it', () => {
  const cases: [KbdEvent, Record<number, number>][] = [
    [
      { kind: 'motion', relX: -2, relY: 3, relZ: 1 },
      { 0: 1, 4: 0xfe, 5: 0xff, 6: 0xff, 7: 0xff, 8: 3, 12: 1 },
    ],
    [
      { kind: 'key', keycode: 0x110, pressed: true },
      { 0: 3, 1: 1, 4: 0x10, 5: 1 },
    ],
    [
      { kind: 'pos', absX: 639, absY: 479, relZ: -1 },
      { 0: 4, 4: 0x7f, 5: 2, 8: 0xdf, 9: 1, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff },
    ],
    [
      { kind: 'mt-down', contact: 3, absX: 10, absY: 20 },
      { 0: 5, 1: 0, 2: 3, 8: 10, 12: 20 },
    ],
    [
      { kind: 'mt-motion', contact: 1, absX: 256, absY: 1 },
      { 0: 5, 1: 2, 2: 1, 9: 1, 12: 1 },
    ],
    [
      { kind: 'mt-up', contact: 9 },
      { 0: 5, 1: 1, 2: 9 },
    ],
    [
      { kind: 'mt-syn', contact: 0 },
      { 0: 5, 1: 3 },
    ],
    [
      { kind: 'mt-shape', contact: 2, major: 30, minor: 20 },
      { 0: 5, 1: 4, 2: 2, 8: 30, 12: 20 },
    ],
    [
      { kind: 'mt-orient', contact: 2, orientation: -90 },
      { 0: 5, 1: 5, 2: 2, 8: 0xa6, 9: 0xff },
    ],
  ];
  for (const [ev, bytes] of cases) {
    const s = new Uint8Array(IN_EVENT_SIZE).fill(0xaa);
    encodeEvent(ev, s);
    assert.equal(hexOf(s), slot(bytes), ev.kind);
    assert.deepEqual(decodeEvent(s), ev, `${ev.kind} round trip`);
  }
});

void test('values a field cannot hold are refused and leave the slot untouched', () => {
  const bad: KbdEvent[] = [
    { kind: 'pos', absX: 2 ** 31, absY: 0, relZ: 0 },
    { kind: 'motion', relX: 0.5, relY: 0, relZ: 0 },
    { kind: 'key', keycode: -1, pressed: true },
    { kind: 'mt-down', contact: 256, absX: 0, absY: 0 },
    { kind: 'mt-orient', contact: 0, orientation: 181 },
    { kind: 'mt-shape', contact: 0, major: -1, minor: 0 },
  ];
  for (const ev of bad) {
    const s = new Uint8Array(IN_EVENT_SIZE).fill(0x55);
    assert.throws(() => encodeEvent(ev, s), RangeError, JSON.stringify(ev));
    assert.ok(
      s.every((b) => b === 0x55),
      `${ev.kind}: slot untouched`,
    );
  }
  assert.throws(() => encodeEvent({ kind: 'mt-syn', contact: 0 }, new Uint8Array(39)), RangeError);
});

void test('200000 random slots decode without throwing; known kinds re-encode to the same event', () => {
  const rnd = xorshift32(0x6b626466);
  const s = new Uint8Array(IN_EVENT_SIZE);
  const again = new Uint8Array(IN_EVENT_SIZE);
  const kinds = new Map<string, number>();
  for (let i = 0; i < 200_000; i++) {
    for (let j = 0; j < IN_EVENT_SIZE; j += 4) {
      const r = rnd();
      s[j] = r & 0xff;
      s[j + 1] = (r >>> 8) & 0xff;
      s[j + 2] = (r >>> 16) & 0xff;
      s[j + 3] = r >>> 24;
    }
    // Mostly valid types so every branch is reached.
    if (i % 4 !== 0) s[0] = 1 + (s[0]! % 5);
    if (s[0] === 5 && i % 2) s[1] = s[1]! % 6;
    const ev = decodeEvent(s);
    kinds.set(ev.kind, (kinds.get(ev.kind) ?? 0) + 1);
    if (ev.kind === 'unknown') continue;
    if (ev.kind === 'mt-orient' && Math.abs(ev.orientation) > 180) {
      assert.throws(() => encodeEvent(ev, again), RangeError);
      continue;
    }
    encodeEvent(ev, again);
    assert.deepEqual(decodeEvent(again), ev);
  }
  for (const k of [
    'motion',
    'key',
    'pos',
    'mt-down',
    'mt-up',
    'mt-motion',
    'mt-syn',
    'mt-shape',
    'mt-orient',
    'unknown',
  ]) {
    assert.ok((kinds.get(k) ?? 0) > 100, `${k} reached`);
  }
});
