// Linux's multi-head SET_CONFIG reaches a KMS output as a connector-sized viewport with a source
// offset (srcX, srcY) into a larger framebuffer: zero-copy scans out with the plane's source
// rectangle (legacy SetCrtc x/y, atomic SRC_X/SRC_Y), the copy path reads its rows from the offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mode } from './fake-drm.js';
import { guestFb, rig } from './helpers.js';

void test('zero-copy, legacy: SetCrtc x/y carry the source offset', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(1024, 768, 60, true)] }] });
  const out = r.backend.output('HDMI-A-1')!;
  const g = guestFb(r.dev, 1824, 800); // two heads side by side, the second 1024x768 at (800, 20)
  await out.setConfig({ fb: g.desc, x: 0, y: 0, width: 1024, height: 768, srcX: 800, srcY: 20 });
  assert.equal(out.pathOf(g.desc).path, 'dma-buf');
  const s = r.dev.crtcState(40);
  assert.deepEqual([s.src.x, s.src.y, s.src.w, s.src.h], [800, 20, 1024, 768]);
  assert.deepEqual(r.dev.pixel(40, 0, 0), g.px(800, 20));
  assert.deepEqual(r.dev.pixel(40, 1023, 767), g.px(1823, 787));
  await r.backend.close();
});

void test('zero-copy, atomic: the plane gets SRC_X/SRC_Y of the offset', async () => {
  const r = rig(
    { connectors: [{ name: 'eDP-1', modes: [mode(1024, 768, 60, true)] }], atomic: true, canPosition: true },
    { scale: false },
  );
  const out = r.backend.output('eDP-1')!;
  const g = guestFb(r.dev, 1824, 768);
  await out.setConfig({ fb: g.desc, x: 0, y: 0, width: 1024, height: 768, srcX: 800, srcY: 0 });
  assert.equal(out.pathOf(g.desc).path, 'dma-buf');
  const s = r.dev.crtcState(40);
  assert.deepEqual([s.src.x, s.src.y, s.src.w, s.src.h], [800, 0, 1024, 768]);
  assert.deepEqual(r.dev.pixel(40, 5, 6), g.px(805, 6));
  await r.backend.close();
});

void test('copy path: rows are read from offset + srcY*pitch + srcX*cpp', async () => {
  const r = rig({ connectors: [{ name: 'DP-1', modes: [mode(1000, 600, 60, true)] }], pitchAlign: 64 });
  const out = r.backend.output('DP-1')!;
  const g = guestFb(r.dev, 1500, 610, { offset: 128 }); // pitch 6000: not 64-aligned, so copied
  await out.setConfig({ fb: g.desc, x: 0, y: 0, width: 1000, height: 600, srcX: 500, srcY: 10 });
  assert.equal(out.pathOf(g.desc).path, 'copied');
  assert.deepEqual(r.dev.pixel(40, 0, 0), g.px(500, 10));
  assert.deepEqual(r.dev.pixel(40, 999, 599), g.px(1499, 609));
  assert.deepEqual(r.dev.pixel(40, 123, 45), g.px(623, 55));
  await r.backend.close();
});
