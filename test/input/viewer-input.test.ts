// The viewer's input messages: what a page may send, and everything else dropped whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_VIEWER_EVENTS, parseViewerInput } from '../../src/input/viewer-input.js';

void test('pointer, buttons, wheel, keys and touch become source events', () => {
  const m = parseViewerInput({
    key: '1/0/0',
    events: [
      { t: 'move', x: 10.5, y: 20, w: 320, h: 240 },
      { t: 'button', button: 0, down: true },
      { t: 'button', button: 2, down: false },
      { t: 'wheel', steps: -2 },
      { t: 'key', code: 'KeyA', down: true },
      { t: 'key', code: 'NotAKey', down: true },
      { t: 'touch', phase: 'down', id: 1, x: 1, y: 2, w: 3, h: 4 },
      { t: 'touch-frame' },
    ],
  });
  assert.deepEqual(m, {
    key: '1/0/0',
    events: [
      { kind: 'abs', x: 10.5, y: 20, w: 320, h: 240 },
      { kind: 'key', code: 0x110, pressed: true },
      { kind: 'key', code: 0x111, pressed: false },
      { kind: 'wheel', steps: -2 },
      { kind: 'key', code: 30, pressed: true },
      { kind: 'touch', phase: 'down', id: 1, x: 1, y: 2, w: 3, h: 4 },
      { kind: 'touch-frame' },
    ],
  });
});

void test('malformed messages are dropped whole', () => {
  const ok = { t: 'move', x: 1, y: 1, w: 2, h: 2 };
  for (const bad of [
    null,
    'x',
    { key: '1/0/0' },
    { key: '../../etc', events: [] },
    { key: '1/0/0', events: Array.from({ length: MAX_VIEWER_EVENTS + 1 }, () => ok) },
    { key: '1/0/0', events: [{ t: 'move', x: 3, y: 1, w: 2, h: 2 }] },
    { key: '1/0/0', events: [{ t: 'move', x: Number.NaN, y: 1, w: 2, h: 2 }] },
    { key: '1/0/0', events: [{ t: 'move', x: 1, y: 1, w: 0, h: 2 }] },
    { key: '1/0/0', events: [{ t: 'button', button: 9, down: true }] },
    { key: '1/0/0', events: [{ t: 'button', button: 0, down: 1 }] },
    { key: '1/0/0', events: [{ t: 'wheel', steps: 1e9 }] },
    { key: '1/0/0', events: [{ t: 'touch', phase: 'hover', id: 0, x: 1, y: 1, w: 2, h: 2 }] },
    { key: '1/0/0', events: [ok, { t: 'exec' }] },
  ]) {
    assert.equal(parseViewerInput(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
  }
});
