// A layout on a KMS output of the fake card without overlay planes: every guest composed by the
// CPU into the primary plane (our buffer, copied into the card's scanout buffer at each flip),
// pixel for pixel on the card's screen, each guest's flip completed by the card's vblank event.
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
  const composed = await ComposedOutput.open(screen, layout);
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
  // The copy is the layout's own, said as such: no guest buffer was refused anything.
  assert.deepEqual(Object.keys(r.backend.fallbacks.byReason()), [COMPOSED_IN_DOM0]);
  await composed.close();
  await r.backend.close();
  assert.equal(r.dev.liveFramebuffers, 0);
});
