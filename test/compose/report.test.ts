// What an operator sees of a layout: `vdispld status` (text and JSON) and the metrics name the
// composed output, its guests, the planes it uses, where each guest is shown (on a plane, or
// composed and why), the display's plane refusals and the bytes the CPU composed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { DeferredProbe, type LayoutProbe, type LayoutRefusalsProbe } from '../../src/ops/probe.js';
import { FrameRates } from '../../src/ops/status/frame-rate.js';
import { buildStatus } from '../../src/ops/status/status-report.js';
import { renderStatus } from '../../src/ops/status/status-text.js';

const LAYOUT: LayoutProbe = {
  output: 'screen0',
  layout: 'vm1/a@40x30+0+0,vm2/b@40x30+50+0',
  entries: 2,
  guests: ['vm1/a'],
  planes: 2,
  framesShown: 17,
  bytesComposed: 123456,
  planeRefusals: 3,
  placements: [
    { key: 'vm1/a', plane: true },
    { key: 'vm2/b', plane: false, why: 'its guest is not there (blank)' },
  ],
};

class LayoutProbeOnly extends DeferredProbe {
  override layouts(): readonly LayoutProbe[] {
    return [LAYOUT];
  }
}

void test('status and metrics report each layout: its guests, planes, where each guest is, frames and bytes composed', async () => {
  const probe = new LayoutProbeOnly();
  const report = buildStatus({ probe, rates: new FrameRates(), version: 't', startedAtMs: 0, nowMs: 1000 });
  assert.deepEqual(report.layouts, [LAYOUT]);
  const text = renderStatus(report);
  assert.match(
    text,
    /layout on "?screen0"?: 1 of 2 guest connectors there \("?vm1\/a"?\), 2 planes, 17 frames, 123456 bytes composed, 3 plane refusals/,
  );
  assert.match(text, /^ {2}"?vm1\/a"?: on an overlay plane$/m);
  assert.match(text, /^ {2}"?vm2\/b"?: composed by the CPU: its guest is not there \(blank\)$/m);
  assert.deepEqual(JSON.parse(JSON.stringify(report)).layouts[0].placements, LAYOUT.placements);
  const m = new Metrics(probe, { processMetrics: false });
  await m.build();
  const t = await m.text();
  assert.match(t, /^vdispld_composed_bytes_total\{output="screen0"\} 123456$/m);
  assert.match(t, /^vdispld_composed_frames_total\{output="screen0"\} 17$/m);
  assert.match(t, /^vdispld_composed_planes\{output="screen0"\} 2$/m);
  assert.match(t, /^vdispld_composed_guests\{output="screen0",on="plane"\} 1$/m);
  assert.match(t, /^vdispld_composed_guests\{output="screen0",on="cpu"\} 1$/m);
  assert.match(t, /^vdispld_composed_plane_refusals_total\{output="screen0"\} 3$/m);
  // all composed by the CPU: the status line says so
  const cpu = renderStatus({ ...report, layouts: [{ ...LAYOUT, planes: 1, planeRefusals: 0 }] });
  assert.match(cpu, /1 plane \(composed by the CPU\), 17 frames, 123456 bytes composed$/m);
});

const REFUSED: LayoutRefusalsProbe = {
  now: [
    {
      output: 'screen1',
      reason: 'unfit',
      line: `layouts.screen1 = "vm1/c@4000x30+0+0": vm1/c at 4000x30+0+0 does not fit the output's 100x50`,
      previousShown: false,
    },
    {
      output: 'screen0',
      reason: 'unparsable',
      line: 'config: XenStore /local/domain/0/vdispld: layouts.screen0 = "vm1/a@40x30": expected ...',
      previousShown: true,
    },
  ],
  total: { unparsable: 2, conflict: 0, unfit: 1, 'output-refused': 0 },
};

class RefusingProbe extends LayoutProbeOnly {
  override layoutRefusals(): LayoutRefusalsProbe {
    return REFUSED;
  }
}

void test('a refused layout: its line and why in status (text and JSON) and the metrics, while it lasts', async () => {
  const probe = new RefusingProbe();
  const report = buildStatus({ probe, rates: new FrameRates(), version: 't', startedAtMs: 0, nowMs: 1000 });
  assert.deepEqual(report.layoutRefusals, REFUSED.now);
  assert.deepEqual(JSON.parse(JSON.stringify(report)).layoutRefusals, REFUSED.now);
  const text = renderStatus(report);
  assert.ok(
    text.includes(
      `layout on screen1 refused (unfit; the output shows no layout): layouts.screen1 = "vm1/c@4000x30+0+0": vm1/c at 4000x30+0+0 does not fit the output's 100x50`,
    ),
    text,
  );
  assert.match(text, /^layout on screen0 refused \(unparsable; the previous layout stays\): config: XenStore /m);
  const m = new Metrics(probe, { processMetrics: false });
  await m.build();
  const t = await m.text();
  assert.match(t, /^vdispld_layout_refused\{output="screen1",reason="unfit"\} 1$/m);
  assert.match(t, /^vdispld_layout_refused\{output="screen0",reason="unparsable"\} 1$/m);
  assert.match(t, /^vdispld_layout_refusals_total\{reason="unparsable"\} 2$/m);
  assert.match(t, /^vdispld_layout_refusals_total\{reason="conflict"\} 0$/m);
  // none refused: no gauge series, and status says nothing
  const quiet = buildStatus({
    probe: new LayoutProbeOnly(),
    rates: new FrameRates(),
    version: 't',
    startedAtMs: 0,
    nowMs: 1000,
  });
  assert.deepEqual(quiet.layoutRefusals, []);
  assert.doesNotMatch(renderStatus(quiet), /refused/);
});
