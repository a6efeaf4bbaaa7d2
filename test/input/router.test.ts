// The router's rules, on recording targets: no focus no input, scaling to each guest's space,
// keys released where they were pressed, focus moves releasing what the old guest held, touch
// emulated as the left button for a guest without multi-touch, keys a guest cannot take refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputRouter } from '../../src/input/router.js';
import { recordingTarget } from './recording-target.js';

const target = recordingTarget;

void test('nothing without focus; scaling into the focused guest only', () => {
  const r = new InputRouter();
  const a = target(1);
  const b = target(2, { width: 1920, height: 1080 });
  r.attach(a);
  r.attach(b);
  r.deliver([{ kind: 'key', code: 30, pressed: true }]);
  assert.equal(r.stats.unfocused, 1);
  assert.deepEqual([a.got, b.got], [[], []]);
  r.focusOn(2, 0);
  r.deliver([{ kind: 'abs', x: 320, y: 240, w: 640, h: 480 }]);
  assert.deepEqual(b.got, [{ kind: 'pos', absX: 960, absY: 540, relZ: 0 }]);
  r.deliver([{ kind: 'abs', x: 640, y: 480, w: 640, h: 480 }]);
  assert.deepEqual(b.got.at(-1), { kind: 'pos', absX: 1919, absY: 1079, relZ: 0 }, 'the far edge is the last pixel');
  assert.deepEqual(a.got, []);
});

void test('focus moves: held keys and touches are released in the guest that had them; their late releases go nowhere', () => {
  const r = new InputRouter();
  const a = target(1);
  const b = target(2);
  r.attach(a);
  r.attach(b);
  r.focusOn(1, 0);
  r.deliver([
    { kind: 'key', code: 29, pressed: true },
    { kind: 'key', code: 30, pressed: true },
    { kind: 'touch', phase: 'down', id: 2, x: 10, y: 10, w: 640, h: 480 },
  ]);
  a.got.length = 0;
  r.cycle();
  assert.equal(r.focus?.domid, 2);
  assert.deepEqual(a.got, [
    { kind: 'key', keycode: 29, pressed: false },
    { kind: 'key', keycode: 30, pressed: false },
    { kind: 'mt-up', contact: 2 },
    { kind: 'mt-syn', contact: 0 },
  ]);
  r.deliver([
    { kind: 'key', code: 30, pressed: false },
    { kind: 'key', code: 31, pressed: true },
  ]);
  assert.deepEqual(
    b.got,
    [{ kind: 'key', keycode: 31, pressed: true }],
    'the release of a key pressed in guest 1 is not guest 2s',
  );
  r.unfocus();
  assert.deepEqual(b.got.at(-1), { kind: 'key', keycode: 31, pressed: false });
  assert.equal(r.focus, undefined);
});

void test('a detached guest loses focus; relative guests get motion; raw guests 0..0x7fff; wheel sign as Linux reads it', () => {
  const r = new InputRouter();
  const rel = target(1, { absPointer: false, multiTouch: false, width: 0, height: 0 });
  const raw = target(2, { rawPointer: true });
  const offRel = r.attach(rel);
  r.attach(raw);
  r.focusOn(1, 0);
  r.deliver([
    { kind: 'motion', dx: 5, dy: -3 },
    { kind: 'wheel', steps: 1 },
  ]);
  assert.deepEqual(rel.got, [
    { kind: 'motion', relX: 5, relY: -3, relZ: 0 },
    { kind: 'motion', relX: 0, relY: 0, relZ: -1 },
  ]);
  offRel();
  assert.equal(r.focus, undefined);
  r.focusOn(2, 0);
  r.deliver([{ kind: 'abs', x: 639, y: 0, w: 640, h: 480 }]);
  assert.deepEqual(raw.got, [{ kind: 'pos', absX: 32716, absY: 0, relZ: 0 }]);
});

void test('touch on a guest without multi-touch is the left button; keys the guest cannot take are refused', () => {
  const r = new InputRouter();
  const t = target(1, { multiTouch: false, keyboard: false });
  r.attach(t);
  r.focusOn(1, 0);
  r.deliver([
    { kind: 'touch', phase: 'down', id: 4, x: 64, y: 48, w: 640, h: 480 },
    { kind: 'touch', phase: 'down', id: 5, x: 1, y: 1, w: 640, h: 480 },
    { kind: 'touch', phase: 'up', id: 4, x: 64, y: 48, w: 640, h: 480 },
    { kind: 'key', code: 30, pressed: true },
    { kind: 'key', code: 0x2ff, pressed: true },
    { kind: 'key', code: 0x111, pressed: true },
  ]);
  assert.deepEqual(t.got, [
    { kind: 'pos', absX: 64, absY: 48, relZ: 0 },
    { kind: 'key', keycode: 0x110, pressed: true },
    { kind: 'pos', absX: 64, absY: 48, relZ: 0 },
    { kind: 'key', keycode: 0x110, pressed: false },
    { kind: 'key', keycode: 0x111, pressed: true },
  ]);
  assert.equal(r.stats.refused, 2, 'a keyboard key with the keyboard disabled, and KEY_MAX');
  const nop = target(2, { pointer: false });
  r.attach(nop);
  r.focusOn(2, 0);
  r.deliver([{ kind: 'key', code: 30, pressed: true }]);
  assert.deepEqual(nop.got, [], 'no pointer device: Linux would dereference it for any key');
});

void test('targetFor: the vkbd with the screens unique-id, else the guests only one', () => {
  const r = new InputRouter();
  r.attach(target(1, { uniqueId: 'a' }));
  r.attach({ ...target(1, { uniqueId: 'b' }), devId: 1 });
  r.attach(target(2, { uniqueId: undefined }));
  assert.equal(r.targetFor(1, 'b')?.devId, 1);
  assert.equal(r.targetFor(1, 'c'), undefined);
  assert.equal(r.targetFor(2, 'x')?.domid, 2);
});
