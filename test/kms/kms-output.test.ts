// The KMS output against a fake card: zero-copy when the card takes the guest's buffer as it is,
// the copy path (row by row, centred) when it does not and why, flips completed by DRM events,
// DRM master lost and regained, framebuffers released while on screen, and a clean close.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mode } from './fake-drm.js';
import { flipper, guestFb, rig as openRig, settle, type Rig } from './helpers.js';

// Every rig a test opened is closed after it, also when an assertion failed half-way: a backend
// left open keeps its master-regain timer and the fake card alive. close() is idempotent, so the
// tests' own closes (whose effects they check) stay.
const opened: Rig[] = [];
const rig = (...args: Parameters<typeof openRig>): Rig => {
  const r = openRig(...args);
  opened.push(r);
  return r;
};
afterEach(async () => {
  for (const r of opened.splice(0)) await r.backend.close();
});

const cfg = (
  fb: { desc: import('../../src/drm/output.js').FramebufferDesc },
  w = fb.desc.width,
  h = fb.desc.height,
) => ({
  fb: fb.desc,
  x: 0,
  y: 0,
  width: w,
  height: h,
});

void test('exact mode, aligned pitch: the guest buffer itself is scanned out (export, PRIME, ADDFB2 with data_ofs)', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(1920, 1080, 60, true), mode(1024, 768)] }] });
  const out = r.backend.output('HDMI-A-1')!;
  assert.deepEqual(
    r.backend.outputs().map((o) => o.name),
    ['HDMI-A-1'],
  );
  assert.deepEqual(
    out.modes.map((m) => `${m.width}x${m.height}`),
    ['1920x1080', '1024x768'],
  );
  const g = guestFb(r.dev, 1024, 768, { offset: 256 });
  await out.setConfig(cfg(g));
  assert.deepEqual(out.pathOf(g.desc), { path: 'dma-buf' });
  assert.ok(
    r.dev.calls.some((c) => /^addFb2 \d+ 1024x768 pitch 4096 offset 256$/.test(c)),
    r.dev.calls.join('\n'),
  );
  const crtc = r.dev.crtcState(40);
  assert.equal(crtc.mode?.hdisplay, 1024, 'the exact 1024x768 mode, not the preferred 1080p');
  assert.deepEqual(r.dev.pixel(40, 10, 20), g.px(10, 20));
  assert.deepEqual(r.dev.pixel(40, 1023, 767), g.px(1023, 767));
  assert.ok(
    r.logs.some((l) => /HDMI-A-1: guest 1024x768 on 1024x768@60\.\d\d \(the exact mode\)/.test(l)),
    r.logs.join('\n'),
  );
  await r.backend.close();
});

void test('an unaligned guest pitch is refused by ADDFB2: copied row by row instead, reason counted once', async () => {
  const r = rig({ connectors: [{ name: 'DP-1', modes: [mode(1000, 600, 60, true)] }], pitchAlign: 64 });
  const out = r.backend.output('DP-1')!;
  const g = guestFb(r.dev, 1000, 600); // pitch 4000: not a multiple of 64
  await out.setConfig(cfg(g));
  const path = out.pathOf(g.desc);
  assert.equal(path.path, 'copied');
  assert.match(path.reason ?? '', /ADDFB2 refused the guest's layout \(EINVAL; pitch not 64-byte aligned\)/);
  assert.deepEqual(r.dev.pixel(40, 999, 599), g.px(999, 599));
  assert.deepEqual(r.dev.pixel(40, 0, 0), g.px(0, 0));
  const g2 = guestFb(r.dev, 1000, 600, { tag: 0x33 });
  const f = flipper();
  out.flip(g2.desc, f.done);
  await settle();
  r.vblank();
  assert.equal(f.results[0]?.shown, true);
  assert.deepEqual(r.dev.pixel(40, 500, 300), g2.px(500, 300));
  assert.deepEqual(r.backend.fallbacks.byReason(), {
    "ADDFB2 refused the guest's layout (EINVAL; pitch not 64-byte aligned)": 2,
  });
  assert.equal(r.logs.filter((l) => l.includes('ADDFB2 refused')).length, 1, 'logged once per reason');
  await r.backend.close();
});

void test('a guest screen smaller than every mode is centred on the preferred mode (legacy KMS: by copying)', async () => {
  const r = rig({ connectors: [{ name: 'VGA-1', modes: [mode(1024, 768, 60, true), mode(1280, 1024)] }] });
  const out = r.backend.output('VGA-1')!;
  const g = guestFb(r.dev, 800, 600);
  await out.setConfig(cfg(g));
  assert.equal(r.dev.crtcState(40).mode?.hdisplay, 1024, 'preferred mode');
  const p = out.pathOf(g.desc);
  assert.equal(p.path, 'copied');
  assert.match(p.reason ?? '', /legacy KMS cannot position a plane/);
  assert.deepEqual(r.dev.pixel(40, 112, 84), g.px(0, 0), 'top-left of the guest at the centred offset');
  assert.deepEqual(r.dev.pixel(40, 112 + 799, 84 + 599), g.px(799, 599));
  assert.deepEqual(r.dev.pixel(40, 111, 84), [0, 0, 0], 'black border');
  assert.deepEqual(r.dev.pixel(40, 1023, 767), [0, 0, 0]);
  assert.ok(
    r.logs.some(
      (l) => l.includes('VGA-1: guest 800x600 on 1024x768@60') && l.includes('preferred mode') && l.includes('centred'),
    ),
  );
  const frame = out.currentFrame()!;
  assert.deepEqual([frame.width, frame.height], [1024, 768]);
  const at = (x: number, y: number) => [...frame.rgba.subarray((y * 1024 + x) * 4, (y * 1024 + x) * 4 + 3)];
  assert.deepEqual(at(112 + 5, 84 + 7), [0x80, 7, 5], 'the snapshot shows the guest centred too (RGBA)');
  assert.deepEqual(at(0, 0), [0, 0, 0]);
  await r.backend.close();
});

void test('atomic: a positionable plane centres zero-copy; a scaling plane fills the mode keeping the aspect', async () => {
  const pos = rig(
    { connectors: [{ name: 'eDP-1', modes: [mode(1024, 768, 60, true)] }], atomic: true, canPosition: true },
    { scale: false },
  );
  assert.equal(pos.backend.modesetting, 'atomic');
  const g = guestFb(pos.dev, 640, 480);
  const out = pos.backend.output('eDP-1')!;
  await out.setConfig(cfg(g));
  assert.deepEqual(out.pathOf(g.desc), { path: 'dma-buf' });
  assert.deepEqual(pos.dev.crtcState(40).dst, { x: 192, y: 144, w: 640, h: 480 });
  assert.deepEqual(pos.dev.pixel(40, 192 + 3, 144 + 4), g.px(3, 4));
  await pos.backend.close();
  assert.equal(pos.dev.liveBlobs, 0, 'mode blobs destroyed');

  const sc = rig({
    connectors: [{ name: 'eDP-1', modes: [mode(1024, 768, 60, true)] }],
    atomic: true,
    canPosition: true,
    canScale: true,
  });
  const g2 = guestFb(sc.dev, 800, 600);
  await sc.backend.output('eDP-1')!.setConfig(cfg(g2));
  assert.deepEqual(sc.dev.crtcState(40).dst, { x: 0, y: 0, w: 1024, h: 768 }, '4:3 in 4:3: scaled to the whole screen');
  assert.deepEqual(sc.dev.pixel(40, 1023, 767), g2.px(799, 599));
  assert.ok(sc.logs.some((l) => l.includes('scaled to fit')));
  await sc.backend.close();
});

void test('flips complete on the DRM event; one waits behind the one in flight, a third replaces it', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const out = r.backend.output('HDMI-A-1')!;
  const [a, b, c, d] = [1, 2, 3, 4].map((t) => guestFb(r.dev, 640, 480, { tag: t }));
  await out.setConfig(cfg(a!));
  const fb = flipper();
  const fc = flipper();
  const fd = flipper();
  out.flip(b!.desc, fb.done);
  await settle();
  out.flip(c!.desc, fc.done);
  out.flip(d!.desc, fd.done);
  await settle();
  assert.equal(fb.results.length, 0, 'not shown before the vblank');
  assert.deepEqual(fc.results, [{ shown: false, reason: 'replaced by a newer flip before the vblank' }]);
  r.vblank();
  assert.equal(fb.results.length, 1);
  const shown = fb.results[0]!;
  assert.ok(shown.shown && shown.timestampNs > 100_000_000_000n, 'timestamp from the event');
  assert.deepEqual(r.dev.pixel(40, 1, 1), b!.px(1, 1));
  await settle();
  r.vblank();
  assert.equal(fd.results[0]?.shown, true);
  assert.deepEqual(r.dev.pixel(40, 1, 1), d!.px(1, 1));
  assert.equal(out.currentFrame()?.rgba[0], 4, 'the snapshot shows the last flip (the tag is the red channel)');
  await r.backend.close();
});

void test('DRM master taken away: flips are dropped, not failed; given back: the guest mode returns', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] }, { masterRetryMs: 60_000 });
  const out = r.backend.output('HDMI-A-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  const b = guestFb(r.dev, 640, 480, { tag: 2 });
  await out.setConfig(cfg(a));
  r.dev.stealMaster();
  const f1 = flipper();
  out.flip(b.desc, f1.done);
  await settle();
  await settle();
  assert.deepEqual(f1.results, [{ shown: false, reason: 'DRM master lost: another process has the display' }]);
  assert.equal(r.backend.isMaster, false);
  assert.ok(r.logs.some((l) => l.includes('lost DRM master')));
  const f2 = flipper();
  out.flip(b.desc, f2.done);
  await settle();
  assert.equal(f2.results[0]?.shown, false, 'dropped at once while paused');
  assert.equal(r.backend.tryRegainMaster(), false, 'still held elsewhere');
  r.dev.giveBackMaster();
  assert.equal(r.backend.tryRegainMaster(), true);
  await settle();
  await settle();
  assert.equal(r.dev.crtcState(40).mode?.hdisplay, 640, 'modeset again');
  assert.deepEqual(r.dev.pixel(40, 7, 7), a.px(7, 7), 'the guest picture is back');
  const f3 = flipper();
  out.flip(b.desc, f3.done);
  await settle();
  r.vblank();
  assert.equal(f3.results[0]?.shown, true);
  await r.backend.close();
});

void test('a framebuffer released while on screen is freed once the screen moves off it', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const out = r.backend.output('HDMI-A-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  const b = guestFb(r.dev, 640, 480, { tag: 2 });
  await out.setConfig(cfg(a));
  const rmBefore = r.dev.calls.filter((c) => c.startsWith('rmFb')).length;
  out.release(a.desc);
  assert.equal(r.dev.calls.filter((c) => c.startsWith('rmFb')).length, rmBefore, 'not removed while scanned out');
  assert.equal(a.exports.closed, 0);
  assert.equal(a.exports.holds, 1, 'its pages are held while on screen');
  assert.deepEqual(r.dev.pixel(40, 3, 3), a.px(3, 3), 'still on screen');
  const frame = out.currentFrame();
  assert.ok(frame, 'the last picture is still available');
  assert.deepEqual(
    [...frame.rgba.subarray((3 * 640 + 3) * 4, (3 * 640 + 3) * 4 + 3)],
    [a.px(3, 3)[2], 3, 3],
    'converted from the held pages (RGBA of B=x, G=y, R=tag)',
  );
  const f = flipper();
  out.flip(b.desc, f.done);
  await settle();
  r.vblank();
  assert.equal(r.dev.calls.filter((c) => c.startsWith('rmFb')).length, rmBefore + 1);
  assert.equal(a.exports.closed, 1, 'the exported dma-buf released once its framebuffer is gone');
  assert.equal(a.exports.holds, 0, 'and the pages let go');
  await r.backend.close();
  assert.equal(b.exports.closed, 1);
});

void test('a platform without dma-buf export and a card without PRIME import each say why they copy', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const g = guestFb(r.dev, 640, 480, { exportable: false });
  await r.backend.output('HDMI-A-1')!.setConfig(cfg(g));
  assert.deepEqual(r.backend.output('HDMI-A-1')!.pathOf(g.desc), {
    path: 'copied',
    reason: 'this platform cannot export guest buffers as dma-bufs',
  });
  assert.deepEqual(r.dev.pixel(40, 9, 9), g.px(9, 9));
  await r.backend.close();

  const np = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], primeImport: false });
  const g2 = guestFb(np.dev, 640, 480);
  await np.backend.output('HDMI-A-1')!.setConfig(cfg(g2));
  assert.equal(np.backend.output('HDMI-A-1')!.pathOf(g2.desc).reason, 'the DRM driver has no PRIME import');
  assert.equal(g2.exports.made, 0, 'nothing exported when the card cannot import');
  await np.backend.close();
});

void test('disable drops pending flips and turns the CRTC off; close restores what was shown and frees everything', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], bootFb: 7 });
  const out = r.backend.output('HDMI-A-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  const b = guestFb(r.dev, 640, 480, { tag: 2 });
  await out.setConfig(cfg(a));
  const f = flipper();
  out.flip(b.desc, f.done);
  await settle();
  await out.setConfig(null);
  await settle();
  assert.equal(f.results[0]?.shown, false);
  assert.equal(r.dev.crtcState(40).fbId, 0, 'CRTC off');
  assert.equal(out.currentFrame(), undefined);
  const g = flipper();
  out.flip(b.desc, g.done);
  await settle();
  assert.deepEqual(g.results, [{ shown: false, reason: 'output disabled' }]);
  out.release(a.desc);
  out.release(b.desc);
  await out.setConfig(cfg(a));
  await r.backend.close();
  assert.equal(r.dev.crtcState(40).fbId, 7, 'fbcon framebuffer restored');
  assert.equal(r.dev.liveFramebuffers, 0);
  assert.equal(r.dev.liveDumbs, 0);
  assert.equal(r.dev.liveHandles, 0);
  assert.deepEqual(r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
  assert.equal(r.dev.closed, true);
  await assert.rejects(out.setConfig(cfg(a)), /gone/);
});

void test('connectors: disconnected ones are not offered; each output gets its own CRTC', () => {
  const r = rig({
    connectors: [
      { name: 'HDMI-A-1', modes: [mode(1920, 1080, 60, true)] },
      { name: 'DP-1', modes: [mode(1024, 768, 60, true)], connected: false },
      { name: 'DP-2', modes: [mode(1280, 1024, 60, true)] },
    ],
  });
  assert.deepEqual(
    r.backend.outputs().map((o) => o.name),
    ['HDMI-A-1', 'DP-2'],
  );
  assert.equal(r.backend.output('DP-1'), undefined);
  const crtcs = r.backend.outputs().map((o) => (o as unknown as { crtcId: number }).crtcId);
  assert.equal(new Set(crtcs).size, 2);
  void r.backend.close();
});

void test('yielding master on purpose pauses the outputs and holds off the regain poll', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] }, { masterRetryMs: 60_000 });
  const out = r.backend.output('HDMI-A-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  await out.setConfig(cfg(a));
  r.backend.yieldMaster(60_000);
  assert.equal(r.dev.isMaster(), false, 'dropMaster called');
  assert.equal(r.backend.isMaster, false);
  assert.equal(r.backend.tryRegainMaster(), false, 'held off');
  const f = flipper();
  out.flip(a.desc, f.done);
  await settle();
  assert.equal(f.results[0]?.shown, false);
  const modesets = r.dev.calls.filter((c) => c.startsWith('setCrtc')).length;
  await r.backend.close();
  assert.equal(
    r.dev.calls.filter((c) => c.startsWith('setCrtc')).length,
    modesets,
    'without master, close does not touch the CRTCs',
  );
});
