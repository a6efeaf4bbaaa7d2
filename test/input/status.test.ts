// vkbd devices in `vdispld status` and the metrics: simulated guests' vkbds through the real backend
// and router, read through the same probe the daemon gives the operations side (inputProbe), the
// status document and its text, and the Prometheus counters (which survive a reconnect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import parse from 'parse-prometheus-text-format';
import { DisplayBackend } from '../../src/backend/backend.js';
import { OutputMap } from '../../src/backend/output-map.js';
import { VkbdBackend } from '../../src/backend/vkbd-backend.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { InputRouter } from '../../src/input/router.js';
import { inputProbe } from '../../src/ops/input-probe.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { emptyFramebufferCounts, type DaemonProbe, type InputProbe } from '../../src/ops/probe.js';
import { FrameRates } from '../../src/ops/status/frame-rate.js';
import { buildStatus } from '../../src/ops/status/status-report.js';
import { renderStatus } from '../../src/ops/status/status-text.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import { SimHost } from '../../src/sim/host.js';
import { silentLogger } from '../../src/util/log.js';

type Input = Extract<FrontendReport, { kind: 'input' }>;

/** A probe with nothing but the input side. */
function probeOf(input: () => InputProbe | undefined): DaemonProbe {
  return {
    devices: () => [],
    outputs: () => [],
    frame: () => undefined,
    resources: () => ({
      grantMappings: 0,
      mappedPages: 0,
      buffers: 0,
      framebuffers: 0,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      dmaBufImports: 0,
    }),
    bufferPaths: () => emptyFramebufferCounts(),
    fallbacks: () => ({}),
    bytesCopied: () => undefined,
    budget: () => undefined,
    inputStatus: input,
  };
}

async function scrape(m: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const f of parse(await m.text())) {
    if (!f.name.startsWith('vdispld_vkbd') && !f.name.startsWith('vdispld_input')) continue;
    for (const s of f.metrics as { labels?: Record<string, string>; value: string }[]) {
      const l = Object.entries(s.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out.set(`${f.name}{${l}}`, Number(s.value));
    }
  }
  return out;
}

void test('status and metrics: connected vkbds, focus, events sent, written, merged and dropped per guest', async () => {
  const host = await SimHost.start();
  const platform = await host.platform();
  const xs = await host.xenstore(0);
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({ backends: [headless], onDemand: headless });
  const log = silentLogger();
  const display = await DisplayBackend.start({ xs, platform, outputs, log });
  const router = new InputRouter();
  const vkbd = await VkbdBackend.start({ xs, platform, router, log, outputs });
  const probe = probeOf(() => inputProbe(vkbd, router));
  const metrics = new Metrics(probe, { processMetrics: false });
  const status = () => buildStatus({ probe, rates: new FrameRates(), version: 't', startedAtMs: 0, nowMs: 0 });
  try {
    const guest = async (res: string) => {
      const g = await host.createDomain({
        vdispl: [`connectors=id0:${res}`],
        vkb: ['backend-type=linux,unique-id=id0'],
        frontend: { kind: 'display', maxFps: 30 },
        verbose: false,
      });
      await g.waitFor((r) => r.kind === 'kbd-connected', { timeoutMs: 15_000 });
      return g;
    };
    const a = await guest('640x480');
    const b = await guest('800x600');
    let s = status();
    assert.equal(s.input?.focus, null);
    assert.deepEqual(
      s.input?.vkbd.map((v) => [v.domid, v.state, v.uniqueId, v.size, v.absPointer, v.multiTouch, v.focused, v.events]),
      [
        [
          a.domid,
          'connected',
          'id0',
          { width: 640, height: 480 },
          true,
          true,
          false,
          { sent: 0, written: 0, coalesced: 0, dropped: 0, backlog: 0 },
        ],
        [
          b.domid,
          'connected',
          'id0',
          { width: 800, height: 600 },
          true,
          true,
          false,
          { sent: 0, written: 0, coalesced: 0, dropped: 0, backlog: 0 },
        ],
      ],
    );
    router.deliver([{ kind: 'key', code: 30, pressed: true }]);
    router.focusOn(a.domid, 0);
    router.deliver([
      { kind: 'abs', x: 10, y: 10, w: 100, h: 100 },
      { kind: 'key', code: 30, pressed: true },
    ]);
    await a.waitFor((r): r is Input => r.kind === 'input' && r.down.includes(30));
    s = status();
    assert.equal(s.input?.focus, `${a.domid}/0`);
    assert.equal(s.input?.unfocused, 1, 'the key pressed before any guest had focus');
    const va = s.input?.vkbd.find((v) => v.domid === a.domid);
    assert.deepEqual(
      [va?.focused, va?.held, va?.events],
      [true, 1, { sent: 2, written: 2, coalesced: 0, dropped: 0, backlog: 0 }],
    );
    const text = renderStatus(s);
    assert.match(
      text,
      new RegExp(
        `^input: focus dom${a.domid} vkbd 0, 1 focus change\\(s\\), 1 event\\(s\\) with no guest focused`,
        'm',
      ),
    );
    assert.match(text, new RegExp(`^  dom${a.domid}/0 +connected +id0 +640x480 +yes +yes +1 +2 +2 +0 +0$`, 'm'));
    let m = await scrape(metrics);
    assert.equal(m.get('vdispld_vkbd_devices{state=connected}'), 2);
    assert.equal(m.get(`vdispld_input_events_written_total{domid=${a.domid},dev=0}`), 2);
    assert.equal(m.get(`vdispld_input_focus{domid=${a.domid},dev=0}`), 1);
    assert.equal(m.get(`vdispld_input_focus{domid=${b.domid},dev=0}`), 0);
    assert.equal(m.get('vdispld_input_events_unfocused_total{}'), 1);

    // Focus to b: a's held key is released there (sent and written to a), then a burst at b faster
    // than it consumes: what the ring and queue cannot take is merged (motion) or dropped (keys).
    router.focusOn(b.domid, 0);
    const keys = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ kind: 'key' as const, code: 31, pressed: i % 2 === 0 }));
    // Synchronous, so the guest consumes nothing meanwhile: 51 ring slots, then 256 queued; motion
    // beyond that is merged into the last queued position, keys beyond it are dropped.
    router.deliver(keys(200));
    router.deliver(Array.from({ length: 300 }, (_, i) => ({ kind: 'abs' as const, x: i, y: 1, w: 1000, h: 1000 })));
    router.deliver(keys(400));
    s = status();
    const vb = s.input?.vkbd.find((v) => v.domid === b.domid)?.events;
    assert.ok(vb);
    assert.deepEqual(vb, { sent: 900, written: 51, backlog: 256, coalesced: 193, dropped: 400 });
    assert.deepEqual(s.input?.vkbd.find((v) => v.domid === a.domid)?.events, {
      sent: 3,
      written: 3,
      coalesced: 0,
      dropped: 0,
      backlog: 0,
    });
    m = await scrape(metrics);
    assert.equal(m.get(`vdispld_input_events_dropped_total{domid=${b.domid},dev=0}`), vb.dropped);
    assert.equal(m.get(`vdispld_input_events_coalesced_total{domid=${b.domid},dev=0}`), vb.coalesced);
    assert.equal(m.get(`vdispld_input_events_written_total{domid=${a.domid},dev=0}`), 3);

    // A guest that is gone: gone from status and its series gone from the metrics.
    await host.destroyDomain(b.domid);
    await vkbd.settled();
    s = status();
    assert.deepEqual(
      s.input?.vkbd.map((v) => v.domid),
      [a.domid],
    );
    assert.equal(s.input?.focus, null, 'focus went with the device that had it');
    m = await scrape(metrics);
    assert.equal(m.get(`vdispld_input_events_written_total{domid=${b.domid},dev=0}`), undefined);
    assert.equal(m.get('vdispld_vkbd_devices{state=connected}'), 1);
    await host.destroyDomain(a.domid);
  } finally {
    await vkbd.close();
    await display.close();
    await headless.close();
    await host.close();
  }
});

void test('metrics: a vkbd counts on across a reconnect (a new connection starts its counters at 0)', async () => {
  let probe: InputProbe = {
    devices: [],
    targets: [],
    router: { delivered: 0, unfocused: 0, refused: 0, focusChanges: 0 },
    sources: [],
  };
  const target = (connection: number, written: number) => ({
    domid: 5,
    devId: 0,
    uniqueId: 'id0',
    width: 640,
    height: 480,
    absPointer: true,
    rawPointer: false,
    multiTouch: true,
    keyboard: true,
    pointer: true,
    focused: true,
    held: 0,
    connection,
    events: { sent: written, written, coalesced: 0, dropped: 0, backlog: 0 },
  });
  const dev = { domid: 5, devId: 0, phase: 'connected', frontendState: 'Connected', error: undefined };
  const metrics = new Metrics(
    probeOf(() => probe),
    { processMetrics: false },
  );
  probe = { ...probe, devices: [dev], targets: [target(1, 40)] };
  assert.equal((await scrape(metrics)).get('vdispld_input_events_written_total{domid=5,dev=0}'), 40);
  probe = { ...probe, devices: [{ ...dev, phase: 'initwait' }], targets: [] };
  assert.equal((await scrape(metrics)).get('vdispld_input_events_written_total{domid=5,dev=0}'), 40);
  probe = { ...probe, devices: [dev], targets: [target(2, 7)] };
  assert.equal((await scrape(metrics)).get('vdispld_input_events_written_total{domid=5,dev=0}'), 47);
});
