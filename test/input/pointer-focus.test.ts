// Focus that follows the pointer (--input-focus pointer): the desktop of guest screens side by side,
// the router giving focus to the guest under the pointer (releasing what the last one held), the
// switch keys releasing dom0's devices and taking them back; then the daemon as it runs, on the
// simulator: two guests on two named outputs in the operator's order, input moving between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeadlessSpec } from '../../src/drm/headless/headless-backend.js';
import { orderScreens, PointerDesktop, type Screen } from '../../src/input/desktop.js';
import { InputRouter } from '../../src/input/router.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import type { SimGuest } from '../../src/sim/host.js';
import { withPointerDaemon } from './pointer-world.js';
import { recordingTarget } from './recording-target.js';

const screen = (output: string, domid: number, width: number, height: number): Screen => ({
  output,
  domid,
  uniqueId: 'id0',
  width,
  height,
});

void test('the desktop: screens left to right in the operator order, the pointer clamped to it', () => {
  const a = screen('dom1.0.id0', 1, 640, 480);
  const b = screen('HDMI-A-2', 2, 800, 600);
  const c = screen('HDMI-A-1', 3, 1024, 768);
  assert.deepEqual(
    orderScreens([a, b, c, screen('x', 4, 0, 0)], ['HDMI-A-1', 'HDMI-A-2']).map((s) => s.output),
    ['HDMI-A-1', 'HDMI-A-2', 'dom1.0.id0'],
    'mapped outputs in the map order, then the rest by name; a screen of no size is not on the desktop',
  );
  const d = new PointerDesktop();
  const at = (dx: number, dy: number, on = [a, b]) => {
    const s = d.move(on, dx, dy);
    return s && [s.screen?.domid, s.x, s.y];
  };
  assert.deepEqual(at(-5, -5), [1, 0, 0]);
  assert.deepEqual(at(639, 479), [1, 639, 479]);
  assert.deepEqual(at(1, 100), [2, 0, 579], 'onto the taller screen, then down');
  assert.deepEqual(at(5000, 5000), [2, 799, 599], 'clamped at the right and bottom edges');
  assert.deepEqual(at(-800, 0), [1, 639, 479], 'back onto the lower screen: y clamped to it');
  assert.deepEqual(at(0, 0, [b]), [2, 639, 479], 'a screen gone: the same desktop x is on the next one');
  assert.equal(d.move([], 1, 1), undefined);
});

const target = recordingTarget;

void test('router: focus goes to the guest under the pointer; what the last one held is released there', () => {
  const r = new InputRouter();
  const a = target(1);
  const b = target(2, { width: 1600, height: 1200 });
  const c = target(3, { absPointer: false, width: 0, height: 0 });
  r.attach(a);
  r.attach(b);
  r.attach(c);
  // b's screen is 800x600 on dom0 while its pointer space is 1600x1200: positions are scaled.
  let screens = [screen('L', 1, 640, 480), screen('M', 2, 800, 600), screen('R', 3, 320, 200)];
  r.followPointer(() => screens);
  r.deliver([{ kind: 'key', code: 30, pressed: true }]);
  assert.equal(r.stats.unfocused, 1, 'no focus before the pointer moves');
  r.deliver([
    { kind: 'motion', dx: 10, dy: 20 },
    { kind: 'key', code: 30, pressed: true },
  ]);
  assert.equal(r.focus?.domid, 1);
  assert.deepEqual(a.got, [
    { kind: 'pos', absX: 10, absY: 20, relZ: 0 },
    { kind: 'key', keycode: 30, pressed: true },
  ]);
  r.deliver([
    { kind: 'motion', dx: 700, dy: 0 },
    { kind: 'key', code: 30, pressed: false },
    { kind: 'key', code: 31, pressed: true },
  ]);
  assert.equal(r.focus?.domid, 2);
  assert.deepEqual(a.got.slice(2), [{ kind: 'key', keycode: 30, pressed: false }], 'a key held in a released in a');
  assert.deepEqual(b.got, [
    { kind: 'pos', absX: 140, absY: 40, relZ: 0 },
    { kind: 'key', keycode: 31, pressed: true },
  ]);
  // Onto a guest with a relative pointer only: it gets the motion, from where the pointer entered.
  r.deliver([
    { kind: 'motion', dx: 750, dy: 0 },
    { kind: 'motion', dx: 5, dy: 3 },
  ]);
  assert.equal(r.focus?.domid, 3);
  assert.deepEqual(b.got.slice(2), [{ kind: 'key', keycode: 31, pressed: false }]);
  assert.deepEqual(c.got, [{ kind: 'motion', relX: 5, relY: 3, relZ: 0 }]);
  // The switch keys: dom0 takes its devices back, the pointer chooses nobody until pressed again.
  assert.equal(r.togglePointerFocus(), false);
  assert.equal(r.focus, undefined);
  r.deliver([{ kind: 'motion', dx: -400, dy: 0 }]);
  assert.equal(r.focus, undefined);
  assert.equal(r.togglePointerFocus(), true);
  assert.equal(
    (r.focus as { domid: number } | undefined)?.domid,
    3,
    'the guest under the pointer when the keys were pressed again',
  );
  // A screen with no vkbd under the pointer: nobody has focus.
  screens = [screen('L', 1, 640, 480), screen('M', 9, 800, 600)];
  r.deliver([{ kind: 'motion', dx: 0, dy: 0 }]);
  assert.equal(r.focus, undefined);
});

type Input = Extract<FrontendReport, { kind: 'input' }>;

void test('the daemon with --input-focus pointer: two guests on two outputs in the connector map order', async () => {
  await withPointerDaemon(
    {
      headlessOutputs: [parseHeadlessSpec('LEFT=800x600'), parseHeadlessSpec('RIGHT=640x480')],
      // The operator put guest "b" on the left output and "a" on the right one.
      connectorMap: new Map([
        ['b/id0', 'LEFT'],
        ['a/id0', 'RIGHT'],
      ]),
    },
    [
      ['a', '640x480'],
      ['b', '800x600'],
    ],
    async (daemon, guests) => {
      const [a, b] = guests as [SimGuest, SimGuest];
      const r = daemon.input;
      r.deliver([{ kind: 'motion', dx: 100, dy: 50 }]);
      assert.equal(r.focus?.domid, b.domid, 'the left output shows b');
      const bIn = await b.waitFor((x): x is Input => x.kind === 'input');
      assert.deepEqual([bIn.x, bIn.y], [100, 50]);
      r.deliver([{ kind: 'key', code: 30, pressed: true }]);
      await b.waitFor((x): x is Input => x.kind === 'input' && x.down.includes(30));
      r.deliver([{ kind: 'motion', dx: 750, dy: 500 }]);
      assert.equal(r.focus?.domid, a.domid, 'past 800 pixels: the right output, a');
      const aIn = await a.waitFor((x): x is Input => x.kind === 'input');
      assert.deepEqual([aIn.x, aIn.y], [50, 479], 'x from the right output edge, y clamped to its 480 lines');
      await b.waitFor((x): x is Input => x.kind === 'input' && x.down.length === 0);
    },
  );
});
