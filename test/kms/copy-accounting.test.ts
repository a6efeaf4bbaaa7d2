// The operator's zero-copy switch and the copy path's byte count, against the fake card and the
// real copy code: off copies framebuffers planned after the change (reason counted like any other),
// on lets new ones scan out again; every copied frame adds rows × guest row bytes to its output's
// count, which the metrics exposition reports per output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import parse from 'parse-prometheus-text-format';
import type { FramebufferDesc } from '../../src/drm/output.js';
import { ZERO_COPY_DISABLED } from '../../src/drm/kms/zero-copy.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { DeferredProbe } from '../../src/ops/probe.js';
import { FrameRates } from '../../src/ops/status/frame-rate.js';
import { buildStatus } from '../../src/ops/status/status-report.js';
import { renderStatus } from '../../src/ops/status/status-text.js';
import { mode } from './fake-drm.js';
import { flipper, guestFb, rig, settle, type Rig } from './helpers.js';

const cfg = (fb: FramebufferDesc) => ({ fb, x: 0, y: 0, width: fb.width, height: fb.height });

/** Flips `fb` and completes it on the next vblank; returns whether it was shown. */
async function show(r: Rig, name: string, fb: FramebufferDesc): Promise<boolean> {
  const f = flipper();
  r.backend.output(name)!.flip(fb, f.done);
  await settle();
  r.vblank();
  await settle();
  assert.equal(f.results.length, 1);
  return f.results[0]!.shown;
}

void test('zero-copy off from the start: a buffer the card would scan out is copied, reason "disabled by configuration"', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(1024, 768, 60, true)] }] }, { zeroCopy: () => false });
  const out = r.backend.output('HDMI-A-1')!;
  const g = guestFb(r.dev, 1024, 768, { offset: 256 });
  await out.setConfig(cfg(g.desc));
  assert.deepEqual(out.pathOf(g.desc), { path: 'copied', reason: ZERO_COPY_DISABLED });
  assert.equal(g.exports.made, 0, 'the guest pages were never exported');
  assert.ok(!r.dev.calls.some((c) => c.includes('offset 256')), 'no framebuffer over the guest buffer');
  assert.deepEqual(r.dev.pixel(40, 1023, 767), g.px(1023, 767), 'the copy shows the guest picture');
  assert.deepEqual(r.backend.fallbacks.byReason(), { [ZERO_COPY_DISABLED]: 1 });
  assert.equal(r.logs.filter((l) => l.includes(ZERO_COPY_DISABLED)).length, 1, 'logged once, like any other reason');
  await r.backend.close();
});

void test('switching zero-copy live: framebuffers planned after the change follow it, earlier ones keep their path', async () => {
  let on = true;
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] }, { zeroCopy: () => on });
  const out = r.backend.output('HDMI-A-1')!;
  const [a, b, c] = [1, 2, 3].map((tag) => guestFb(r.dev, 640, 480, { tag }));
  await out.setConfig(cfg(a!.desc));
  assert.deepEqual(out.pathOf(a!.desc), { path: 'dma-buf' });

  on = false;
  assert.equal(await show(r, 'HDMI-A-1', b!.desc), true);
  assert.deepEqual(out.pathOf(b!.desc), { path: 'copied', reason: ZERO_COPY_DISABLED });
  assert.deepEqual(r.dev.pixel(40, 5, 6), b!.px(5, 6));
  assert.equal(await show(r, 'HDMI-A-1', a!.desc), true);
  assert.deepEqual(out.pathOf(a!.desc), { path: 'dma-buf' }, 'planned before the change: unchanged');

  on = true;
  assert.equal(await show(r, 'HDMI-A-1', c!.desc), true);
  assert.deepEqual(out.pathOf(c!.desc), { path: 'dma-buf' });
  assert.deepEqual(r.backend.fallbacks.byReason(), { [ZERO_COPY_DISABLED]: 1 });
  await r.backend.close();
  assert.equal(a!.exports.closed, a!.exports.made);
  assert.equal(c!.exports.closed, c!.exports.made);
});

void test('copied bytes: rows × guest row bytes of every copied frame, per output; zero-copy frames add nothing', async () => {
  const r = rig({
    connectors: [
      { name: 'VGA-1', modes: [mode(1024, 768, 60, true)] },
      { name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] },
    ],
  });
  // 800x600 on a 1024x768 mode, legacy KMS: centred by copying, row by row (3200 bytes each).
  const vga = r.backend.output('VGA-1')!;
  const [g1, g2, g3] = [1, 2, 3].map((tag) => guestFb(r.dev, 800, 600, { tag }));
  await vga.setConfig(cfg(g1!.desc));
  assert.equal(vga.pathOf(g1!.desc).path, 'copied');
  assert.equal(await show(r, 'VGA-1', g2!.desc), true);
  assert.equal(await show(r, 'VGA-1', g3!.desc), true);
  assert.deepEqual(r.dev.pixel((vga as unknown as { crtcId: number }).crtcId, 112 + 799, 84 + 599), g3!.px(799, 599));
  // The exact mode: zero-copy, nothing copied.
  const hdmi = r.backend.output('HDMI-A-1')!;
  const z = guestFb(r.dev, 640, 480);
  await hdmi.setConfig(cfg(z.desc));
  assert.equal(hdmi.pathOf(z.desc).path, 'dma-buf');
  assert.deepEqual(r.backend.copiedBytes(), { 'VGA-1': 3 * 600 * 800 * 4, 'HDMI-A-1': 0 });

  // A guest buffer that ends early (a lying size) is copied as far as it goes: only those rows count.
  const short = guestFb(r.dev, 800, 600, { tag: 4 });
  const desc: FramebufferDesc = { ...short.desc, buffer: { ...short.desc.buffer, size: 100 * 3200 + 10 } };
  assert.equal(await show(r, 'VGA-1', desc), true);
  assert.equal(r.backend.copiedBytes()['VGA-1'], 3 * 600 * 3200 + 100 * 3200);

  // What a scrape reports, through the operations side's probe and a Prometheus text parser.
  const probe = new DeferredProbe();
  probe.set({
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
    bufferPaths: () => ({
      guest: { 'dma-buf': 1, copied: 1, mapped: 0 },
      'be-alloc': { 'dma-buf': 0, copied: 0, mapped: 0 },
    }),
    fallbacks: () => r.backend.fallbacks.byReason(),
    bytesCopied: () => r.backend.copiedBytes(),
    budget: () => undefined,
  });
  const fams = parse(await new Metrics(probe, { processMetrics: false }).text());
  const copied = fams.find((f) => f.name === 'vdispld_copied_bytes_total');
  assert.equal(copied?.type, 'COUNTER');
  const by = Object.fromEntries(copied.metrics.map((m) => [m.labels?.['output'], Number(m.value)]));
  assert.deepEqual(by, { 'VGA-1': 3 * 600 * 3200 + 100 * 3200, 'HDMI-A-1': 0 });
  // ... and what `vdispld status --json` and its text form report: the same figure
  const status = buildStatus({ probe, rates: new FrameRates(), version: 'test', startedAtMs: 0, nowMs: 0 });
  assert.deepEqual(status.copiedBytes, { 'VGA-1': 3 * 600 * 3200 + 100 * 3200, 'HDMI-A-1': 0 });
  assert.match(renderStatus(status), new RegExp(`^bytes copied: VGA-1 ${3 * 600 * 3200 + 100 * 3200}$`, 'm'));
  await r.backend.close();
});
