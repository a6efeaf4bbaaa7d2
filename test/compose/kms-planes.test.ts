// A layout on a KMS output of the fake card with two overlay planes: guests shown 1:1 go on
// them (their own buffers scanned out, nothing composed or copied for their frames) where the
// card's test-only commit accepts it; where it refuses (here: the card lights fewer overlays than
// asked, as a bandwidth limit would), the bottom guests go back to the CPU for that frame and the
// picture stays exact. Every pixel of the screen is checked against the model, with the planes
// the card really lit; bytes composed and copied are counted per frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLayout } from '../../src/backend/layouts.js';
import { ComposedOutput } from '../../src/drm/compose/composed-output.js';
import type { SlotOutput } from '../../src/drm/compose/slot-output.js';
import type { FlipResult, FramebufferDesc, Output } from '../../src/drm/output.js';
import { mode } from '../kms/fake-drm.js';
import { guestFb, rig, type Rig } from '../kms/helpers.js';
import { expectedAt, flipAtVblanks, type ModelGuest } from './helpers.js';

function flipped(r: Rig, out: Output, fb: FramebufferDesc): Promise<FlipResult> {
  return flipAtVblanks(() => r.vblank(), out, fb);
}

void test('overlay planes: guests on planes where a test-only commit takes them, the CPU per frame where not', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], atomic: true, overlays: 2 });
  const screen = r.backend.output('HDMI-A-1')!;
  assert.equal(screen.overlayPlanes, 2);
  const layout = parseLayout('HDMI-A-1', '1/a@320x240+0+0,2/b@320x240+320+0,3/c@160x120+0+300:scaled');
  const composed = await ComposedOutput.open(screen, layout, { allocate: (s) => r.backend.allocateDrawBuffer(s) });
  const a = composed.attach('1/a', { width: 320, height: 240 });
  const b = composed.attach('2/b', { width: 320, height: 240 });
  const c = composed.attach('3/c', { width: 320, height: 240 });
  const fa = guestFb(r.dev, 320, 240, { tag: 1 });
  const fb = guestFb(r.dev, 320, 240, { tag: 2 });
  const fc = guestFb(r.dev, 320, 240, { tag: 3 });
  const guests = new Map<string, ModelGuest>();
  for (const [key, slot, g] of [
    ['1/a', a, fa],
    ['2/b', b, fb],
    ['3/c', c, fc],
  ] as const) {
    const cfg = { fb: g.desc, x: 0, y: 0, width: 320, height: 240 };
    await slot.setConfig(cfg);
    assert.ok((await flipped(r, slot, g.desc)).shown);
    guests.set(key, { width: 320, height: 240, cfg });
  }
  const check = (what: string): void => {
    for (let y = 0; y < 480; y++)
      for (let x = 0; x < 640; x++) {
        const want = expectedAt(layout, guests, x, y);
        const got = r.dev.pixel(40, x, y);
        if (!got || got[0] !== want[2] || got[1] !== want[1] || got[2] !== want[0])
          assert.fail(`${what}: (${x},${y}) got ${got?.join(',')}, want ${[want[2], want[1], want[0]].join(',')}`);
      }
  };
  /**
   * Bytes composed and copied per frame over `frames` flips of `slot`, after one flip more (so
   * that neither buffer still lacks what another guest's last frames changed).
   */
  const perFrame = async (slot: SlotOutput, g: { desc: FramebufferDesc }, frames: number) => {
    assert.ok((await flipped(r, slot, g.desc)).shown);
    const c0 = composed.stats.bytesComposed;
    const k0 = r.backend.copiedBytes()['HDMI-A-1']!;
    for (let i = 0; i < frames; i++) assert.ok((await flipped(r, slot, g.desc)).shown);
    return {
      composed: (composed.stats.bytesComposed - c0) / frames,
      copied: (r.backend.copiedBytes()['HDMI-A-1']! - k0) / frames,
    };
  };

  // Accepted: a and b (1:1) on the two overlay planes, c (scaled) composed.
  assert.ok((await flipped(r, a, fa.desc)).shown);
  assert.equal(r.dev.litOverlays(40), 2, 'both 1:1 guests on overlay planes');
  assert.equal(composed.stats.planes, 3);
  check('on planes');
  const onPlane = await perFrame(a, fa, 4);
  assert.deepEqual(onPlane, { composed: 0, copied: 0 }, 'a guest on a plane costs no byte per frame');
  const cpu = await perFrame(c, fc, 2);
  assert.deepEqual(cpu, { composed: 160 * 120 * 4, copied: 0 }, 'the scaled guest: its rectangle composed');
  assert.ok(r.dev.overlayTests.accepted > 0);
  assert.equal(composed.stats.planeRefusals, 0);
  assert.ok(composed.stats.planeFrames >= 6);

  // Refused: the card lights one overlay at most. The bottom guest (a) goes back to the CPU.
  r.dev.overlayLimit = 1;
  const g2 = guestFb(r.dev, 320, 240, { tag: 7 });
  guests.set('2/b', { width: 320, height: 240, cfg: { fb: g2.desc, x: 0, y: 0, width: 320, height: 240 } });
  assert.ok((await flipped(r, b, g2.desc)).shown);
  assert.ok((await flipped(r, b, g2.desc)).shown);
  assert.ok(composed.stats.planeRefusals >= 1);
  assert.ok(r.dev.overlayTests.refused >= 1);
  assert.equal(r.dev.litOverlays(40), 1);
  assert.equal(composed.stats.planes, 2);
  check('one plane refused');
  const refusals = composed.stats.planeRefusals;
  assert.deepEqual(await perFrame(a, fa, 3), { composed: 320 * 240 * 4, copied: 0 }, 'a composed: its rectangle');
  assert.deepEqual(await perFrame(b, g2, 3), { composed: 0, copied: 0 }, 'b still on its plane');
  assert.equal(composed.stats.planeRefusals, refusals, 'not tested again every frame');

  // No overlay at all: every guest composed, the picture exact.
  r.dev.overlayLimit = 0;
  for (let i = 0; i < 40 && r.dev.litOverlays(40) > 0; i++) await flipped(r, b, g2.desc);
  assert.equal(r.dev.litOverlays(40), 0);
  check('all composed');

  // The card takes both again: tried again after a while, both back on their planes.
  r.dev.overlayLimit = Infinity;
  for (let i = 0; i < 80 && r.dev.litOverlays(40) < 2; i++) await flipped(r, a, fa.desc);
  assert.equal(r.dev.litOverlays(40), 2);
  check('back on planes');

  await composed.close();
  for (const g of [fa, fb, fc, g2]) for (const s of [a, b, c]) s.release(g.desc);
  await r.backend.close();
  assert.equal(r.dev.liveFramebuffers, 0, 'framebuffers left on the card');
  assert.equal(r.dev.liveDumbs, 0, 'dumb buffers left');
  assert.equal(r.dev.liveHandles, 0, 'GEM handles left');
  assert.deepEqual(r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
});
