// Focus that follows the pointer over a layout (several guests on one dom0 output): the output is
// one tile of the desktop at its composed size; the pointer, an absolute device or a finger put
// down belongs to the topmost guest rectangle under it, in that guest's pixels (scaled rectangles
// scaled back), and to nobody over the blank between rectangles; a finger stays with the guest it
// went down on. Then the daemon as it runs, on the simulator, with two guests in one layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLayout } from '../../src/backend/layouts.js';
import { parseHeadlessSpec } from '../../src/drm/headless/headless-backend.js';
import type { LayoutPlace } from '../../src/drm/output.js';
import { PointerDesktop, tiles, type Screen } from '../../src/input/desktop.js';
import { InputRouter } from '../../src/input/router.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import type { SimGuest } from '../../src/sim/host.js';
import { withPointerDaemon } from './pointer-world.js';
import { recordingTarget } from './recording-target.js';

const PANEL = { width: 1280, height: 480 };

function placed(
  domid: number,
  width: number,
  height: number,
  rect: LayoutPlace['rect'],
  scaled: boolean,
  z: number,
  output = 'PANEL',
): Screen {
  return { output, domid, uniqueId: 'id0', width, height, place: { output: PANEL, rect, scaled, z } };
}

// On the panel, bottom to top: guest 1 (640x480, 1:1 at the left), guest 2 (320x240 scaled to
// 640x480 at the right), guest 3 (200x100, 1:1 in a 300x200 rectangle over both at (540,100): its
// picture covers 200x100 of it, the rest shows what is below). A lone 800x600 screen to the right.
const g1 = placed(1, 640, 480, { x: 0, y: 0, width: 640, height: 480 }, false, 0);
const g2 = placed(2, 320, 240, { x: 640, y: 0, width: 640, height: 480 }, true, 1);
const g3 = placed(3, 200, 100, { x: 540, y: 100, width: 300, height: 200 }, false, 2);
const lone: Screen = { output: 'SIDE', domid: 4, uniqueId: 'id0', width: 800, height: 600 };

void test('the desktop over a layout: one tile at the composed size, the topmost rectangle under the pointer, in its guest pixels', () => {
  // The status lists a layout's connectors in any order: the tile stacks them by z.
  const screens = [g3, g1, g2, lone];
  assert.deepEqual(
    tiles(screens).map((t) => [t.width, t.height, t.screens.map((s) => s.domid)]),
    [
      [1280, 480, [1, 2, 3]],
      [800, 600, [4]],
    ],
  );
  const d = new PointerDesktop();
  const at = (dx: number, dy: number) => {
    const s = d.move(screens, dx, dy);
    return s && [s.screen?.domid, s.x, s.y];
  };
  assert.deepEqual(at(10, 20), [1, 10, 20]);
  assert.deepEqual(at(590, 230), [1, 600, 250], "in 3's rectangle, below its 200x100 picture: 1 under it");
  assert.deepEqual(at(-60, -150), [3, 0, 0], "onto 3's picture (over 1)");
  assert.deepEqual(at(199, 99), [3, 199, 99]);
  assert.deepEqual(at(1, 0), [2, 50, 99], "past 3's picture (x 740): 2, its rectangle scaled 2:1 to its 320x240");
  assert.deepEqual(at(539, 280), [2, 319, 239], "2's bottom-right pixel");
  assert.deepEqual(at(1, 0), [4, 0, 479], 'off the panel: the next output, the lone screen');
  assert.deepEqual(at(5000, 5000), [4, 799, 599]);
  // The panel showing 1 alone on its left half: the right half is blank, nobody's.
  const blank = new PointerDesktop();
  const s = blank.move([g1], 900, 10);
  assert.deepEqual([s?.screen, s?.x, s?.y], [undefined, 900, 10], 'a layout blank: no screen, the tile position');
  assert.equal(blank.move([g1], -900, 0)?.screen?.domid, 1);
  // An absolute device addresses the whole tile the pointer is on.
  const abs = d.place(screens, 0, 0, 100, 100);
  assert.deepEqual([abs?.screen?.domid, abs?.x, abs?.y], [4, 0, 0], 'the pointer is on the lone screen');
  d.move(screens, -5000, 0);
  const t = d.place(screens, 75, 50, 100, 100);
  assert.deepEqual([t?.screen?.domid, t?.x, t?.y, t?.tx, t?.ty], [2, 160, 120, 960, 240], 'a tablet over the panel');
});

type Out = ReturnType<typeof recordingTarget>['got'];

void test("router over a layout: a finger put down gives its guest focus and stays with it; the blank is nobody's", () => {
  const r = new InputRouter();
  const a = recordingTarget(1, { multiTouch: true });
  const b = recordingTarget(2, { multiTouch: true, width: 320, height: 240 });
  r.attach(a);
  r.attach(b);
  // 1 at the left 1:1, 2 scaled into the right half.
  const screens = [g1, g2];
  r.followPointer(() => screens);
  const touch = (phase: 'down' | 'motion' | 'up', id: number, x: number, y: number) =>
    ({ kind: 'touch', phase, id, x, y, w: 1280, h: 480 }) as const;
  r.deliver([touch('down', 0, 100, 200), { kind: 'touch-frame' }]);
  assert.equal(r.focus?.domid, 1);
  assert.deepEqual(a.got, [
    { kind: 'mt-down', contact: 0, absX: 100, absY: 200 },
    { kind: 'mt-syn', contact: 0 },
  ]);
  // The finger slides onto 2's rectangle: it stays 1's, clamped at 1's right edge.
  r.deliver([touch('motion', 0, 900, 300), { kind: 'touch-frame' }]);
  assert.equal(r.focus?.domid, 1);
  assert.deepEqual(a.got.slice(2), [
    { kind: 'mt-motion', contact: 0, absX: 639, absY: 300 },
    { kind: 'mt-syn', contact: 0 },
  ]);
  assert.deepEqual(b.got, [], 'nothing of a finger that went down on 1 reaches 2');
  // A second finger down on 2: focus moves, 1's finger is lifted in 1 first.
  r.deliver([touch('down', 1, 1280 - 2, 479), { kind: 'touch-frame' }]);
  assert.equal(r.focus?.domid, 2);
  assert.deepEqual(a.got.slice(4), [
    { kind: 'mt-up', contact: 0 },
    { kind: 'mt-syn', contact: 0 },
  ]);
  assert.deepEqual(b.got, [
    { kind: 'mt-down', contact: 1, absX: 319, absY: 239 },
    { kind: 'mt-syn', contact: 0 },
  ] satisfies Out);
  // The first finger's later moves and lift belong to nobody now.
  r.deliver([touch('motion', 0, 100, 100), touch('up', 0, 100, 100)]);
  assert.equal(b.got.length, 2);
  assert.equal(a.got.length, 6);
  r.deliver([touch('up', 1, 1000, 100), { kind: 'touch-frame' }]);
  assert.deepEqual(b.got.slice(2), [
    { kind: 'mt-up', contact: 1 },
    { kind: 'mt-syn', contact: 0 },
  ]);
  // With 2 gone from the layout, its half is blank: a finger there gives nobody focus.
  screens.pop();
  const before = r.stats.unfocused;
  r.deliver([touch('down', 2, 1000, 100)]);
  assert.equal(r.focus, undefined);
  assert.equal(r.stats.unfocused, before + 1);
  assert.deepEqual(b.got.length, 4, 'nothing more for 2');
});

type Input = Extract<FrontendReport, { kind: 'input' }>;

void test('the daemon with --input-focus pointer and a layout: each guest gets the pointer over its own rectangle', async () => {
  await withPointerDaemon(
    {
      headlessOutputs: [parseHeadlessSpec('PANEL=1280x480')],
      // "a" 1:1 on the left half, "b" (320x240) scaled into the right half.
      layouts: new Map([['PANEL', parseLayout('PANEL', 'a/id0@640x480+0+0,b/id0@640x480+640+0:scaled')]]),
    },
    [
      ['a', '640x480'],
      ['b', '320x240'],
    ],
    async (daemon, guests) => {
      const [a, b] = guests as [SimGuest, SimGuest];
      const r = daemon.input;
      r.deliver([{ kind: 'motion', dx: 600, dy: 50 }]);
      assert.equal(r.focus?.domid, a.domid, "x 600 of the panel is a's rectangle");
      const aIn = await a.waitFor((x): x is Input => x.kind === 'input');
      assert.deepEqual([aIn.x, aIn.y], [600, 50]);
      r.deliver([{ kind: 'key', code: 30, pressed: true }]);
      await a.waitFor((x): x is Input => x.kind === 'input' && x.down.includes(30));
      r.deliver([{ kind: 'motion', dx: 300, dy: 100 }]);
      assert.equal(r.focus?.domid, b.domid, "x 900: b's rectangle on the same output");
      const bIn = await b.waitFor((x): x is Input => x.kind === 'input');
      assert.deepEqual([bIn.x, bIn.y], [130, 75], "b's own pixels: (900-640)/2, 150/2");
      await a.waitFor((x): x is Input => x.kind === 'input' && x.down.length === 0);
      // A tablet over the panel: its point picks the guest.
      r.deliver([{ kind: 'abs', x: 10, y: 90, w: 100, h: 100 }]);
      assert.equal(r.focus?.domid, a.domid);
      const aAbs = await a.waitFor((x): x is Input => x.kind === 'input' && x.x === 128);
      assert.equal(aAbs.y, 432);
    },
  );
});
