// The evdev source's I/O path on real descriptors: FIFOs stand in for /dev/input/event* (only the
// two ioctls are played), so reading through the poller, delivery to the focused guest, the switch
// combination (next guest, then dom0), grabbing while a guest has focus, a device that goes away
// releasing its keys, and nothing left open after close() are all exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import type { FdFunctions } from '../../src/native/fd.js';
import { EvdevSource } from '../../src/input/evdev-source.js';
import { InputRouter } from '../../src/input/router.js';
import { captureLogger } from '../ops/helpers.js';
import { waitFor } from '../backend/helpers/test-frontend.js';
import { recordingTarget } from './recording-target.js';

const fns = native() as unknown as FdFunctions;
const rec = (t: number, c: number, v: number): Buffer => {
  const b = Buffer.alloc(24);
  b.writeUInt16LE(t, 16);
  b.writeUInt16LE(c, 18);
  b.writeInt32LE(v, 20);
  return b;
};
const key = (c: number, v: number): Buffer => Buffer.concat([rec(1, c, v), rec(0, 0, 0)]);

const target = (domid: number) => recordingTarget(domid, { multiTouch: false });

void test('keys reach the guest with focus; the switch combination moves focus and the grab; an unplugged device releases its keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-evdev-'));
  const before = native().nativeResources();
  const path = join(dir, 'event0');
  fns.makeFifo(path, 0o600);
  const grabs: boolean[] = [];
  const router = new InputRouter();
  const a = target(1);
  const b = target(2);
  router.attach(a);
  router.attach(b);
  const { log } = captureLogger();
  const src = new EvdevSource({
    router,
    log,
    devices: [path, join(dir, 'missing')],
    ioctls: {
      evdevInfo: () => ({ name: 'kbd', keys: [29, 30, 56, 88], rel: [], abs: {}, direct: false }),
      evdevGrab: (_fd, on) => void grabs.push(on),
    },
  });
  // The writer end, as the kernel's evdev would be.
  const w = openSync(path, 'w');
  try {
    assert.deepEqual(
      src.list(),
      [{ path, kind: 'keyboard', grabbed: false }],
      'the missing path is skipped with a warning',
    );
    writeSync(w, key(30, 1));
    await waitFor('the key read', () => router.stats.unfocused === 1);
    assert.deepEqual([a.got, b.got], [[], []], 'nobody has focus: nothing delivered');
    writeSync(w, key(30, 0));
    // Ctrl+Alt+F12: focus to guest 1, grabbed.
    writeSync(w, Buffer.concat([key(29, 1), key(56, 1), key(88, 1), key(88, 0), key(56, 0), key(29, 0)]));
    await waitFor('focus on guest 1', () => router.focus?.domid === 1);
    assert.deepEqual(grabs, [true]);
    writeSync(w, key(30, 1));
    await waitFor('KEY_A in guest 1', () => a.got.some((e) => e.kind === 'key' && e.keycode === 30 && e.pressed));
    // Ctrl+Alt+F12 while A is held: guest 2 gets focus, guest 1 gets A (and the modifiers) released.
    writeSync(w, Buffer.concat([key(29, 1), key(56, 1), key(88, 1)]));
    await waitFor('focus on guest 2', () => router.focus?.domid === 2);
    assert.deepEqual(
      a.got
        .filter((e) => e.kind === 'key' && !e.pressed)
        .map((e) => (e as { keycode: number }).keycode)
        .sort(),
      [29, 30, 56],
    );
    assert.ok(!b.got.some((e) => e.kind === 'key' && e.keycode === 88), 'the switch key itself is not delivered');
    writeSync(w, Buffer.concat([key(88, 0), key(56, 0), key(29, 0), key(30, 0)]));
    // Once more: after the last guest, dom0 (the grab is released).
    writeSync(w, Buffer.concat([key(29, 1), key(56, 1), key(88, 1), key(88, 0), key(56, 0), key(29, 0)]));
    await waitFor('focus released', () => router.focus === undefined);
    assert.deepEqual(grabs, [true, false]);
    // Back to guest 1, press A, unplug: A is released in guest 1.
    writeSync(w, Buffer.concat([key(29, 1), key(56, 1), key(88, 1), key(88, 0), key(56, 0), key(29, 0), key(30, 1)]));
    await waitFor(
      'A down in guest 1 again',
      () => a.got.filter((e) => e.kind === 'key' && e.keycode === 30 && e.pressed).length === 2,
    );
    const n = a.got.length;
    closeSync(w);
    await waitFor('device gone', () => src.list().length === 0);
    assert.deepEqual(a.got.slice(n), [{ kind: 'key', keycode: 30, pressed: false }]);
  } finally {
    src.close();
    src.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(native().nativeResources().deviceFds, before.deviceFds, 'no descriptor left open');
  assert.equal(native().nativeResources().pollers, before.pollers, 'no poller left');
});
