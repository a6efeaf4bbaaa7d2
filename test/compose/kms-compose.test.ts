// A layout on a KMS output of the fake card without overlay planes: every guest composed by the
// CPU into the primary plane, straight into the card's dumb buffers (no copy after the
// composition), pixel for pixel on the card's screen, each guest's flip completed by the card's
// vblank event; and the bytes a composed frame costs, against composing in memory and copying.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLayout } from '../../src/backend/layouts.js';
import { ComposedOutput } from '../../src/drm/compose/composed-output.js';
import { COMPOSED_IN_DOM0 } from '../../src/drm/kms/zero-copy.js';
import type { FlipResult } from '../../src/drm/output.js';
import { mode } from '../kms/fake-drm.js';
import { rig } from '../kms/helpers.js';
import { expectedAt, patternFb, type ModelGuest } from './helpers.js';

/** Completes `p` by delivering vblanks as the card would, until it settles. */
async function settle(r: ReturnType<typeof rig>, p: Promise<FlipResult>): Promise<FlipResult> {
  let done: FlipResult | undefined;
  void p.then((x) => (done = x));
  for (let i = 0; i < 400 && !done; i++) {
    r.vblank();
    await new Promise((res) => setTimeout(res, 5));
  }
  assert.ok(done, 'the flip completed');
  return done;
}

void test('KMS without overlay planes: the layout composed by the CPU into the primary plane, pixel for pixel', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(320, 200, 60, true)] }], atomic: true });
  const screen = r.backend.output('HDMI-A-1')!;
  const layout = parseLayout('HDMI-A-1', 'vm1/a@160x120+0+0,vm2/b@120x90+150+60:scaled,vm3/c@40x40+270+150');
  const composed = await ComposedOutput.open(screen, layout, { allocate: (s) => r.backend.allocateDrawBuffer(s) });
  const a = composed.attach('vm1/a', { width: 160, height: 120 });
  const b = composed.attach('vm2/b', { width: 60, height: 45 });
  const guests = new Map<string, ModelGuest>();
  const fa = patternFb(160, 120, 1);
  const fb = patternFb(60, 45, 2);
  await a.setConfig({ fb: fa, x: 0, y: 0, width: 160, height: 120 });
  await b.setConfig({ fb, x: 0, y: 0, width: 60, height: 45 });
  const [ra, rb] = await Promise.all([
    settle(r, new Promise((res) => a.flip(fa, res))),
    settle(r, new Promise((res) => b.flip(fb, res))),
  ]);
  assert.ok(ra.shown && rb.shown);
  guests.set('vm1/a', { width: 160, height: 120, cfg: { fb: fa, x: 0, y: 0, width: 160, height: 120 } });
  guests.set('vm2/b', { width: 60, height: 45, cfg: { fb, x: 0, y: 0, width: 60, height: 45 } });
  const crtc = (screen as unknown as { crtcId: number }).crtcId;
  for (let y = 0; y < 200; y++)
    for (let x = 0; x < 320; x++) {
      const want = expectedAt(layout, guests, x, y);
      const got = r.dev.pixel(crtc, x, y);
      assert.deepEqual(got, [want[2], want[1], want[0]], `(${x},${y})`);
    }
  // One flip of a: shown at the card's next vblank event.
  const fa2 = patternFb(160, 120, 9);
  assert.ok((await settle(r, new Promise((res) => a.flip(fa2, res)))).shown);
  assert.deepEqual(r.dev.pixel(crtc, 5, 7), [9, 7, 5]);
  assert.equal(composed.stats.slots, 2);
  // Composed in the card's own buffers: nothing copied after the composition, no copy reason.
  assert.equal(r.backend.copiedBytes()['HDMI-A-1'], 0);
  assert.deepEqual(r.backend.fallbacks.byReason(), {});
  await composed.close();
  await r.backend.close();
  assert.equal(r.dev.liveFramebuffers, 0);
  assert.equal(r.dev.liveDumbs, 0);
  assert.deepEqual(r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
});

/** Bytes per composed frame on 1920x1080 with two 960x1080 guests, one flipping each frame. */
async function bytesPerFrame(intoCard: boolean): Promise<{ composed: number; copied: number; frames: number }> {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(1920, 1080, 60, true)] }], atomic: true });
  const screen = r.backend.output('HDMI-A-1')!;
  const layout = parseLayout('HDMI-A-1', 'vm1/a@960x1080+0+0,vm2/b@960x1080+960+0');
  const allocate = intoCard ? (s: { width: number; height: number }) => r.backend.allocateDrawBuffer(s) : undefined;
  const composed = await ComposedOutput.open(screen, layout, { allocate });
  const slots = [
    composed.attach('vm1/a', { width: 960, height: 1080 }),
    composed.attach('vm2/b', { width: 960, height: 1080 }),
  ];
  const fbs = [patternFb(960, 1080, 1), patternFb(960, 1080, 2)];
  for (const [i, s] of slots.entries()) {
    await s.setConfig({ fb: fbs[i]!, x: 0, y: 0, width: 960, height: 1080 });
    assert.ok((await settle(r, new Promise((res) => s.flip(fbs[i]!, res)))).shown);
  }
  // One frame more, so that neither buffer still lacks vm2's first picture.
  assert.ok((await settle(r, new Promise((res) => slots[0]!.flip(fbs[0]!, res)))).shown);
  const composed0 = composed.stats.bytesComposed;
  const copied0 = r.backend.copiedBytes()['HDMI-A-1']!;
  const shown0 = composed.stats.framesShown;
  // vm1 flips every frame, vm2 keeps its picture: each buffer lacks only vm1's rectangle.
  for (let i = 0; i < 6; i++) assert.ok((await settle(r, new Promise((res) => slots[0]!.flip(fbs[0]!, res)))).shown);
  const frames = composed.stats.framesShown - shown0;
  const out = {
    composed: (composed.stats.bytesComposed - composed0) / frames,
    copied: (r.backend.copiedBytes()['HDMI-A-1']! - copied0) / frames,
    frames,
  };
  const reasons = Object.keys(r.backend.fallbacks.byReason());
  assert.deepEqual(reasons, intoCard ? [] : [COMPOSED_IN_DOM0]);
  await composed.close();
  await r.backend.close();
  assert.equal(r.dev.liveDumbs, 0);
  return out;
}

void test('bytes per composed frame: composed into the card buffer, the 960x1080 that flipped and no copy after', async () => {
  const before = await bytesPerFrame(false);
  const after = await bytesPerFrame(true);
  // One guest's rectangle redrawn per frame: 960 x 1080 x 4 bytes.
  assert.equal(before.frames, 6);
  assert.equal(after.frames, 6);
  assert.equal(before.composed, 960 * 1080 * 4);
  assert.equal(after.composed, 960 * 1080 * 4);
  // Composed in memory, the card copied the whole frame again: 1920 x 1080 x 4 more.
  assert.equal(before.copied, 1920 * 1080 * 4);
  assert.equal(after.copied, 0);
  console.log(
    `bytes per composed frame (1920x1080, 2 guests, one flipping): in memory then copied ${before.composed + before.copied}, into the card's buffer ${after.composed + after.copied}`,
  );
});
