// Monitors plugged in and out of the fake card while a guest runs: the output is parked (CRTC off,
// scanout buffers freed, flips answered as dropped), comes back as the same object showing the
// guest's last frame, a connector plugged in for the first time gets an output of its own, and the
// output map says what happened to a claimed output. Nothing is left on the card after close.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { OutputMap } from '../../src/backend/output-map.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import type { Output } from '../../src/drm/output.js';
import { domId } from '../../src/util/ids.js';
import { mode } from './fake-drm.js';
import { flipper, guestFb, rig, settle, type Rig } from './helpers.js';

const cfg = (fb: { desc: import('../../src/drm/output.js').FramebufferDesc }) => ({
  fb: fb.desc,
  x: 0,
  y: 0,
  width: fb.desc.width,
  height: fb.desc.height,
});

/** The backend closed, and the card checked empty, whatever the test's assertions did. */
function closing(t: TestContext, r: Rig): void {
  t.after(() => r.backend.close());
}

function assertCardEmpty(r: Rig): void {
  assert.equal(r.dev.liveFramebuffers, 0, 'framebuffers left on the card');
  assert.equal(r.dev.liveDumbs, 0, 'dumb buffers left');
  assert.equal(r.dev.liveHandles, 0, 'GEM handles left');
  assert.equal(r.dev.liveBlobs, 0, 'mode blobs left');
  assert.deepEqual(r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
}

for (const atomic of [false, true]) {
  void test(`${atomic ? 'atomic' : 'legacy'}: unplugged while a guest flips, the output is parked; plugged back, the guest's last frame returns`, async (t) => {
    const r = rig(
      { connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], atomic },
      { hotplugPollMs: 2 },
    );
    closing(t, r);
    // The watch's timer does not hold the process open (a daemon has its own reasons to live): this does.
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    const out = r.backend.output('HDMI-A-1')!;
    const a = guestFb(r.dev, 640, 480, { tag: 1 });
    const b = guestFb(r.dev, 640, 480, { tag: 2 });
    const c = guestFb(r.dev, 640, 480, { tag: 3 });
    await out.setConfig(cfg(a));
    const pending = flipper();
    out.flip(b.desc, pending.done);
    await settle();

    const removed = once(r.backend.events, 'output-removed');
    r.dev.setMonitor('HDMI-A-1', undefined);
    const [gone] = (await removed) as [Output];
    assert.equal(gone, out, 'the seam names the output that went');
    assert.equal(r.backend.output('HDMI-A-1'), undefined, 'no longer offered');
    assert.deepEqual(r.backend.outputs(), []);
    await settle();
    assert.deepEqual(pending.results, [{ shown: false, reason: 'output unplugged' }], 'the flip in flight is answered');
    assert.equal(r.dev.crtcState(40).fbId, 0, 'CRTC turned off');
    assert.equal(r.backend.resources().dumbBuffers, 0, 'scanout buffers freed while unplugged');
    assert.equal(out.currentFrame(), undefined);

    // The guest carries on: its flips are answered at once, the last one is kept to show.
    const f = flipper();
    out.flip(c.desc, f.done);
    await settle();
    assert.deepEqual(f.results, [{ shown: false, reason: 'output unplugged' }]);

    const added = once(r.backend.events, 'output-added');
    r.dev.setMonitor('HDMI-A-1', [mode(800, 600, 60, true), mode(640, 480)]);
    const [back] = (await added) as [Output];
    assert.equal(back, out, 'the same output comes back, so a claim on it stays valid');
    assert.equal(r.backend.output('HDMI-A-1'), out);
    assert.deepEqual(
      out.modes.map((m) => `${m.width}x${m.height}`),
      ['800x600', '640x480'],
      "the new monitor's modes",
    );
    await settle();
    await settle();
    assert.equal(r.dev.crtcState(40).mode?.hdisplay, 640, 'the exact mode of the new monitor');
    assert.deepEqual(r.dev.pixel(40, 9, 9), c.px(9, 9), 'the frame the guest flipped last');
    const g = flipper();
    out.flip(b.desc, g.done);
    await settle();
    r.vblank();
    assert.equal(g.results[0]?.shown, true, 'flips are shown again');
    assert.deepEqual(r.dev.pixel(40, 9, 9), b.px(9, 9));

    await out.setConfig(null);
    for (const x of [a, b, c]) out.release(x.desc);
    await r.backend.close();
    assertCardEmpty(r);
  });
}

void test('a framebuffer released while unplugged is not shown on return; the guest next SET_CONFIG is', async (t) => {
  const r = rig({ connectors: [{ name: 'DP-1', modes: [mode(640, 480, 60, true)] }] });
  closing(t, r);
  const out = r.backend.output('DP-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  await out.setConfig(cfg(a));
  r.dev.setMonitor('DP-1', undefined);
  r.backend.rescan();
  out.release(a.desc);
  r.dev.setMonitor('DP-1', [mode(640, 480, 60, true)]);
  r.backend.rescan();
  await settle();
  assert.equal(r.dev.crtcState(40).fbId, 0, 'nothing to show: the guest pages are gone');
  assert.equal(out.currentFrame(), undefined);
  const b = guestFb(r.dev, 640, 480, { tag: 2 });
  await out.setConfig(cfg(b));
  assert.deepEqual(r.dev.pixel(40, 3, 4), b.px(3, 4));
  await out.setConfig(null);
  out.release(b.desc);
  await r.backend.close();
  assertCardEmpty(r);
});

void test('a connector plugged in for the first time gets an output on a free CRTC; none free: said once', async (t) => {
  const r = rig({
    connectors: [
      { name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] },
      { name: 'DP-1', modes: [], connected: false },
      { name: 'DP-2', modes: [], connected: false },
    ],
    crtcs: 2,
    atomic: true,
  });
  closing(t, r);
  assert.deepEqual(
    r.backend.outputs().map((o) => o.name),
    ['HDMI-A-1'],
  );
  const seen: string[] = [];
  r.backend.events.on('output-added', (o) => seen.push(o.name));
  r.dev.setMonitor('DP-1', [mode(1024, 768, 60, true)]);
  r.backend.rescan();
  assert.deepEqual(seen, ['DP-1']);
  const dp = r.backend.output('DP-1')!;
  const g = guestFb(r.dev, 1024, 768);
  await dp.setConfig(cfg(g));
  const crtc = (dp as unknown as { crtcId: number }).crtcId;
  assert.notEqual(crtc, (r.backend.output('HDMI-A-1') as unknown as { crtcId: number }).crtcId, 'a CRTC of its own');
  assert.deepEqual(r.dev.pixel(crtc, 100, 200), g.px(100, 200));

  r.dev.setMonitor('DP-2', [mode(800, 600, 60, true)]);
  r.backend.rescan();
  r.backend.rescan();
  assert.deepEqual(seen, ['DP-1'], 'both CRTCs are taken');
  assert.equal(r.logs.filter((l) => l.includes('DP-2: connected, but no free CRTC')).length, 1, 'said once');

  // DP-1 unplugged frees its CRTC for DP-2.
  r.dev.setMonitor('DP-1', undefined);
  r.backend.rescan();
  assert.deepEqual(seen, ['DP-1', 'DP-2']);
  assert.equal((r.backend.output('DP-2') as unknown as { crtcId: number }).crtcId, crtc);
  await dp.setConfig(null);
  dp.release(g.desc);
  await r.backend.close();
  assertCardEmpty(r);
});

void test('unplugged and plugged back while another process holds DRM master: shown once master returns', async (t) => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] }, { masterRetryMs: 60_000 });
  closing(t, r);
  const out = r.backend.output('HDMI-A-1')!;
  const a = guestFb(r.dev, 640, 480, { tag: 1 });
  await out.setConfig(cfg(a));
  r.dev.setMonitor('HDMI-A-1', undefined);
  r.backend.rescan();
  r.dev.stealMaster();
  r.backend.yieldMaster();
  r.dev.setMonitor('HDMI-A-1', [mode(640, 480, 60, true)]);
  r.backend.rescan();
  await settle();
  const f = flipper();
  out.flip(a.desc, f.done);
  await settle();
  assert.deepEqual(f.results, [{ shown: false, reason: 'DRM master lost: another process has the display' }]);
  r.dev.giveBackMaster();
  assert.equal(r.backend.tryRegainMaster(), true);
  await settle();
  await settle();
  assert.deepEqual(r.dev.pixel(40, 5, 6), a.px(5, 6), 'the guest picture is back');
  await out.setConfig(null);
  out.release(a.desc);
  await r.backend.close();
  assertCardEmpty(r);
});

void test('the output map keeps a claim across unplug and replug, and says so', async (t) => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  closing(t, r);
  const headless = new HeadlessBackend();
  const said: string[] = [];
  const map = new OutputMap({
    backends: [r.backend, headless],
    onDemand: headless,
    connectorMap: new Map([['3/c0', 'HDMI-A-1']]),
    warn: (m) => said.push(m),
  });
  t.after(() => map.close());
  const claimed = map.claim({
    guest: { domid: domId(3) },
    devId: 0,
    index: 0,
    uniqueId: 'c0',
    resolution: { width: 640, height: 480 },
  });
  assert.ok(claimed.ok);
  r.dev.setMonitor('HDMI-A-1', undefined);
  r.backend.rescan();
  assert.equal(said.length, 1);
  assert.match(said[0]!, /output HDMI-A-1 is gone \(unplugged\): dom3 device 0 connector 0 .* keeps running/);
  const again = map.claim({
    guest: { domid: domId(4) },
    devId: 0,
    index: 0,
    uniqueId: 'HDMI-A-1',
    resolution: { width: 640, height: 480 },
  });
  assert.ok(again.ok && again.claim.dedicated, 'another guest naming the output gets a headless output of its own');
  again.claim.release();
  r.dev.setMonitor('HDMI-A-1', [mode(640, 480, 60, true)]);
  r.backend.rescan();
  assert.match(said[1]!, /output HDMI-A-1 is back: showing dom3 device 0 connector 0/);
  assert.equal(claimed.claim.output, r.backend.output('HDMI-A-1'));
  // Another monitor between two looks (no unplug seen): one line, a swap, not gone then back.
  const removedSeen: boolean[] = [];
  const onRemoved = (_o: unknown, swapped?: boolean): void => void removedSeen.push(swapped === true);
  r.backend.events.on('output-removed', onRemoved);
  r.dev.setMonitor('HDMI-A-1', [mode(800, 600, 60, true), mode(640, 480)]);
  r.backend.rescan();
  r.backend.events.off('output-removed', onRemoved);
  assert.deepEqual(removedSeen, [true], 'the seam says the removal is a swap');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(said.slice(2), [
    'output HDMI-A-1: another monitor (other modes, no unplug seen): dom3 device 0 connector 0 (unique-id "c0") goes on at its modes',
  ]);
  assert.equal(claimed.claim.output, r.backend.output('HDMI-A-1'), 'the same output, the claim kept');
  claimed.claim.release();
  map.close();
  assert.equal(r.backend.events.listenerCount('output-added'), 0, 'the map stopped listening');
  await r.backend.close();
  assertCardEmpty(r);
});
