// evdev records as the kernel writes them, through the decoder: keyboards, mice, touchscreens
// (absolute and multi-touch) and touchpads, frames ending at SYN_REPORT, SYN_DROPPED, and the
// releases owed when a device goes away. Also the switch key combination's syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, EvdevDecoder, INPUT_EVENT_SIZE, type EvdevCaps } from '../../src/input/evdev-decoder.js';
import { parseSwitchKeys } from '../../src/input/evdev-source.js';

const records = (list: [number, number, number][]): Uint8Array => {
  const b = new Uint8Array(list.length * INPUT_EVENT_SIZE);
  const dv = new DataView(b.buffer);
  list.forEach(([t, c, v], i) => {
    dv.setBigInt64(i * 24, 1700000000n, true);
    dv.setUint16(i * 24 + 16, t, true);
    dv.setUint16(i * 24 + 18, c, true);
    dv.setInt32(i * 24 + 20, v, true);
  });
  return b;
};
const SYN: [number, number, number] = [0, 0, 0];
const KBD: EvdevCaps = { name: 'kbd', keys: [1, 30], rel: [], abs: {}, direct: false };
const MOUSE: EvdevCaps = { name: 'mouse', keys: [0x110], rel: [0, 1, 8], abs: {}, direct: false };
const TOUCH: EvdevCaps = {
  name: 'ts',
  keys: [0x14a],
  rel: [],
  abs: { 0: { min: 0, max: 4095 }, 1: { min: 0, max: 4095 }, 0x35: { min: 0, max: 4095 }, 0x36: { min: 0, max: 4095 } },
  direct: true,
};
const TABLET: EvdevCaps = {
  name: 'tablet',
  keys: [0x110],
  rel: [],
  abs: { 0: { min: 0, max: 32767 }, 1: { min: 0, max: 32767 } },
  direct: true,
};
const PAD: EvdevCaps = {
  name: 'pad',
  keys: [0x110, 0x145, 0x14a],
  rel: [],
  abs: { 0: { min: 0, max: 1000 }, 1: { min: 0, max: 1000 } },
  direct: false,
};

/** QEMU's usb-tablet and VMware's mouse: absolute axes and buttons, neither direct nor a finger tool. */
const VM_TABLET: EvdevCaps = {
  name: 'QEMU QEMU USB Tablet',
  keys: [0x110, 0x111, 0x112],
  rel: [8],
  abs: { 0: { min: 0, max: 32767 }, 1: { min: 0, max: 32767 } },
  direct: false,
};

void test('classification', () => {
  assert.deepEqual([KBD, MOUSE, TOUCH, TABLET, PAD, VM_TABLET].map(classify), [
    'keyboard',
    'mouse',
    'touchscreen',
    'touchscreen',
    'touchpad',
    'tablet',
  ]);
  assert.equal(classify({ name: 'lid', keys: [], rel: [], abs: {}, direct: false }), undefined);
});

void test('keys and repeats in frames; a partial record at the end is ignored', () => {
  const d = new EvdevDecoder(KBD);
  const b = records([[1, 30, 1], SYN, [1, 30, 2], SYN, [1, 30, 0], SYN]);
  assert.deepEqual(d.decode(b, b.length - INPUT_EVENT_SIZE - 5), [
    { kind: 'key', code: 30, pressed: true },
    { kind: 'key', code: 30, pressed: true },
  ]);
  assert.deepEqual(d.releaseAll(), [{ kind: 'key', code: 30, pressed: false }], 'unplugged with the key down');
});

void test('a mouse: motion summed per frame, wheel, buttons', () => {
  const d = new EvdevDecoder(MOUSE);
  const b = records([[2, 0, 3], [2, 1, -2], [2, 0, 1], [1, 0x110, 1], SYN, [2, 8, -1], [1, 0x110, 0], SYN]);
  assert.deepEqual(d.decode(b, b.length), [
    { kind: 'key', code: 0x110, pressed: true },
    { kind: 'motion', dx: 4, dy: -2 },
    { kind: 'key', code: 0x110, pressed: false },
    { kind: 'wheel', steps: -1 },
  ]);
});

void test('a tablet gives absolute positions in its range; a touchscreen gives touches per slot', () => {
  const t = new EvdevDecoder(TABLET);
  const b = records([[3, 0, 16384], [3, 1, 32767], SYN]);
  assert.deepEqual(t.decode(b, b.length), [{ kind: 'abs', x: 16384, y: 32767, w: 32768, h: 32768 }]);
  const s = new EvdevDecoder(TOUCH);
  const frames = records([
    [3, 0x2f, 0],
    [3, 0x39, 7],
    [3, 0x35, 100],
    [3, 0x36, 200],
    [1, 0x14a, 1],
    SYN,
    [3, 0x2f, 1],
    [3, 0x39, 8],
    [3, 0x35, 300],
    [3, 0x36, 400],
    [3, 0x2f, 0],
    [3, 0x35, 110],
    SYN,
    [3, 0x39, -1],
    SYN,
  ]);
  assert.deepEqual(s.decode(frames, frames.length), [
    { kind: 'touch', phase: 'down', id: 0, x: 100, y: 200, w: 4096, h: 4096 },
    { kind: 'touch-frame' },
    { kind: 'touch', phase: 'motion', id: 0, x: 110, y: 200, w: 4096, h: 4096 },
    { kind: 'touch', phase: 'down', id: 1, x: 300, y: 400, w: 4096, h: 4096 },
    { kind: 'touch-frame' },
    { kind: 'touch', phase: 'up', id: 0, x: 110, y: 200, w: 4096, h: 4096 },
    { kind: 'touch-frame' },
  ]);
  assert.deepEqual(s.releaseAll(), [{ kind: 'touch', phase: 'up', id: 1, x: 0, y: 0, w: 1, h: 1 }]);
});

void test('a touchpad moves the pointer by its finger deltas, per stroke', () => {
  const d = new EvdevDecoder(PAD);
  const b = records([
    [1, 0x14a, 1],
    [3, 0, 500],
    [3, 1, 500],
    SYN,
    [3, 0, 510],
    [3, 1, 495],
    SYN,
    [1, 0x14a, 0],
    SYN,
    [1, 0x14a, 1],
    [3, 0, 100],
    [3, 1, 100],
    SYN,
  ]);
  assert.deepEqual(d.decode(b, b.length), [{ kind: 'motion', dx: 10, dy: -5 }], 'a new stroke does not jump');
});

void test("an indirect absolute pointer without a finger tool (a VM's USB tablet) is absolute, not a touchpad", () => {
  const d = new EvdevDecoder(VM_TABLET);
  const b = records([[3, 0, 32767], [3, 1, 16384], SYN, [1, 0x110, 1], SYN, [1, 0x110, 0], [3, 0, 0], SYN]);
  assert.deepEqual(d.decode(b, b.length), [
    { kind: 'abs', x: 32767, y: 16384, w: 32768, h: 32768 },
    { kind: 'key', code: 0x110, pressed: true },
    { kind: 'key', code: 0x110, pressed: false },
    { kind: 'abs', x: 0, y: 16384, w: 32768, h: 32768 },
  ]);
});

void test('SYN_DROPPED: the partial frame is discarded up to the next report', () => {
  const d = new EvdevDecoder(MOUSE);
  const b = records([[2, 0, 5], [0, 3, 0], [2, 0, 7], SYN, [2, 1, 1], SYN]);
  assert.deepEqual(d.decode(b, b.length), [{ kind: 'motion', dx: 0, dy: 1 }]);
});

void test('switch keys: names joined by +, each once, unknown names named', () => {
  assert.deepEqual(parseSwitchKeys('leftctrl+leftalt+f12'), [29, 56, 88]);
  assert.deepEqual(parseSwitchKeys('ScrollLock'), [70]);
  assert.throws(() => parseSwitchKeys('ctrl+x'), /unknown key "ctrl"/);
  assert.throws(() => parseSwitchKeys('f1+f1'), /distinct/);
});
