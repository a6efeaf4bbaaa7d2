// Keyboard and pointer on a guest's window reach that guest's vkbd through the real input router,
// and nobody else's. The compositor's side is played by a stand-in: Debian's Weston headless has no
// seat, so it sends no keyboard or pointer events to any client here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BTN_LEFT } from '../../src/kbdif/constants.js';
import type { KbdEvent } from '../../src/kbdif/events.js';
import { InputRouter } from '../../src/input/router.js';
import type { InputTarget, InputTargetInfo } from '../../src/input/target.js';
import type { WaylandConnection, WindowEvent } from '../../src/drm/wayland/wayland-connection.js';
import { WaylandOutput } from '../../src/drm/wayland/wayland-output.js';
import { WindowInput } from '../../src/drm/wayland/window-input.js';
import { StandIn } from './helpers/stand-in.js';

const KEY_A = 30;

function vkbd(domid: number, uniqueId: string, got: KbdEvent[]): InputTarget {
  return {
    domid,
    devId: 0,
    uniqueId,
    width: 320,
    height: 240,
    absPointer: true,
    rawPointer: false,
    multiTouch: false,
    keyboard: true,
    pointer: true,
    send: (events) => got.push(...events),
  };
}

function window(router: InputRouter, domid: number, uniqueId: string): { out: WaylandOutput; conn: StandIn } {
  const conn = new StandIn(null, 1);
  const out = new WaylandOutput(
    `wl-${domid}`,
    { width: 320, height: 240, refreshMilliHz: 60000, preferred: true },
    {
      title: `dom${domid} ${uniqueId}`,
      appId: 'vdispld',
    },
  );
  out.setInput(new WindowInput(router, domid, uniqueId, 320, 240));
  out.attach(conn as unknown as WaylandConnection);
  return { out, conn };
}

/** The router's focus, read afresh (not narrowed by an earlier assertion). */
const focus = (r: InputRouter): InputTargetInfo | undefined => r.focus;

const ev = (e: Record<string, unknown>): Omit<WindowEvent, 'window'> => e as unknown as Omit<WindowEvent, 'window'>;

void test('input on a window goes to its guest only while the window has the keyboard; focus moves with it', () => {
  const router = new InputRouter();
  const gotA: KbdEvent[] = [];
  const gotB: KbdEvent[] = [];
  router.attach(vkbd(5, 'main', gotA));
  router.attach(vkbd(6, 'main', gotB));
  const a = window(router, 5, 'main');
  const b = window(router, 6, 'main');

  // Before any window has the keyboard, nothing is delivered.
  a.conn.send(ev({ type: 'key', value: KEY_A, x: 1, y: 0 }));
  assert.equal(focus(router), undefined);
  assert.deepEqual(gotA, []);

  a.conn.send(ev({ type: 'keyboard-enter', value: 0 }));
  assert.equal(focus(router)?.domid, 5);
  a.conn.send(ev({ type: 'key', value: KEY_A, x: 1, y: 0 }));
  a.conn.send(ev({ type: 'pointer-enter', value: 0, x: 160, y: 120 }));
  a.conn.send(ev({ type: 'button', value: BTN_LEFT, x: 1, y: 0 }));
  a.conn.send(ev({ type: 'button', value: BTN_LEFT, x: 0, y: 0 }));
  a.conn.send(ev({ type: 'wheel', value: 0, x: 2, y: 0 }));
  assert.deepEqual(gotA, [
    { kind: 'key', keycode: KEY_A, pressed: true },
    { kind: 'pos', absX: 160, absY: 120, relZ: 0 },
    { kind: 'key', keycode: BTN_LEFT, pressed: true },
    { kind: 'key', keycode: BTN_LEFT, pressed: false },
    // Two steps towards the user: kbdif's rel_z counts them positive (the frontend reports REL_WHEEL -2).
    { kind: 'pos', absX: 160, absY: 120, relZ: 2 },
  ]);
  // The pointer over B while A has the keyboard: B's guest gets nothing.
  b.conn.send(ev({ type: 'pointer-enter', value: 0, x: 10, y: 10 }));
  b.conn.send(ev({ type: 'button', value: BTN_LEFT, x: 1, y: 0 }));
  assert.deepEqual(gotB, []);

  // The keyboard moves to B: A's held key is released in A, then B's guest has the focus.
  const before = gotA.length;
  a.conn.send(ev({ type: 'keyboard-leave', value: 0 }));
  assert.equal(focus(router), undefined);
  assert.deepEqual(gotA.slice(before), [{ kind: 'key', keycode: KEY_A, pressed: false }]);
  b.conn.send(ev({ type: 'keyboard-enter', value: 0 }));
  assert.equal(focus(router)?.domid, 6);
  b.conn.send(ev({ type: 'motion', value: 0, x: 319.5, y: 0.25 }));
  assert.deepEqual(gotB, [{ kind: 'pos', absX: 319, absY: 0, relZ: 0 }]);
  // A late event from A's window (queued before the leave) cannot reach B's guest or A's.
  a.conn.send(ev({ type: 'key', value: KEY_A, x: 1, y: 0 }));
  assert.equal(gotA.length, before + 1);
  assert.equal(gotB.length, 1);
  a.out.close();
  b.out.close();
});

void test('a window without a vkbd for its connector takes no focus; a display-only window ignores input', () => {
  const router = new InputRouter();
  const got: KbdEvent[] = [];
  router.attach(vkbd(5, 'main', got));
  router.attach({ ...vkbd(5, 'side', got), devId: 1 });
  // Guest 7 has no vkbd at all.
  const lone = window(router, 7, 'main');
  lone.conn.send(ev({ type: 'keyboard-enter', value: 0 }));
  assert.equal(focus(router), undefined);
  // Guest 5 has two vkbds: its "side" window focuses the "side" one.
  const side = window(router, 5, 'side');
  side.conn.send(ev({ type: 'keyboard-enter', value: 0 }));
  assert.deepEqual([focus(router)?.domid, focus(router)?.devId], [5, 1]);
  // The router's focus moved elsewhere (dom0's switch key, the viewer): the window's keys stop.
  router.focusOn(5, 0);
  side.conn.send(ev({ type: 'key', value: KEY_A, x: 1, y: 0 }));
  assert.deepEqual(got, []);
  // Its keyboard-leave does not take the focus it no longer has.
  side.conn.send(ev({ type: 'keyboard-leave', value: 0 }));
  assert.deepEqual([focus(router)?.domid, focus(router)?.devId], [5, 0]);
  side.out.setInput(undefined);
  side.conn.send(ev({ type: 'keyboard-enter', value: 0 }));
  assert.deepEqual([focus(router)?.domid, focus(router)?.devId], [5, 0]);
  lone.out.close();
  side.out.close();
});
