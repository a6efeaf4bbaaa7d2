// Metrics: what the backend pushes and what is read at scrape time, exposed by prom-client and
// read back by an independent Prometheus text parser, over HTTP as a scraper would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { Op, XEN_EINVAL, XEN_ENOMEM } from '../../src/displif/constants.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { MetricsServer } from '../../src/ops/metrics/metrics-server.js';
import { resultName } from '../../src/ops/metrics/request-counts.js';
import type { ConnectorCounters, DaemonProbe, DeviceProbe } from '../../src/ops/probe.js';

function counters(shown: number, dropped: number): ConnectorCounters {
  return {
    requests: 0,
    errors: 0,
    timeouts: 0,
    flipsQueued: shown + dropped,
    flipsShown: shown,
    flipsDropped: dropped,
    flipLatencyUsSum: 0,
    flipLatencyUsLast: 0,
  };
}

class FakeProbe implements DaemonProbe {
  devs: DeviceProbe[] = [];
  fallbackCounts: Record<string, number> = {};
  copied: Record<string, number> | undefined = {};
  devices(): readonly DeviceProbe[] {
    return this.devs;
  }
  outputs() {
    return [];
  }
  frame() {
    return undefined;
  }
  resources() {
    return {
      grantMappings: 7,
      mappedPages: 1234,
      buffers: 3,
      framebuffers: 2,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      dmaBufImports: 0,
    };
  }
  bufferPaths() {
    return {
      guest: { 'dma-buf': 2, copied: 1, mapped: 3 },
      'be-alloc': { 'dma-buf': 1, copied: 0, mapped: 0 },
    };
  }
  fallbacks() {
    return this.fallbackCounts;
  }
  bytesCopied() {
    return this.copied;
  }
  budget() {
    return {
      limits: { mappedPages: 131072, allocatedPages: 131072, fds: 512 },
      planned: 4,
      used: { mappedPages: 9000, allocatedPages: 0, fds: 1 },
      share: { mappedPages: 43690, allocatedPages: 65536, fds: 170 },
      refused: { mappedPages: 4, allocatedPages: 0, fds: 0 },
      guests: [
        { domid: 3, mappedPages: 8000, allocatedPages: 0, fds: 1 },
        { domid: 4, mappedPages: 1000, allocatedPages: 0, fds: 0 },
      ],
    };
  }
}

function device(domid: number, phase: string, stats: ConnectorCounters[] = []): DeviceProbe {
  return {
    domid,
    devId: 0,
    phase,
    frontendState: 'Connected',
    error: undefined,
    connectors: stats.map((s, index) => ({
      index,
      uniqueId: `id${index}`,
      output: `o${index}`,
      resolution: { width: 64, height: 48 },
      scanout: null,
      stats: s,
    })),
  };
}

function family(fams: ParsedFamily[], name: string): ParsedFamily {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `metric ${name} missing; have ${fams.map((x) => x.name).join(', ')}`);
  return f;
}

function value(fams: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = family(fams, name);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  assert.ok(m, `${name}${JSON.stringify(labels)} missing`);
  return Number(m.value);
}

void test('exposition: requests by op and result, flip latency histogram, frames per connector across reconnects, resources, states', async () => {
  const probe = new FakeProbe();
  const m = new Metrics(probe, { logSuppressed: () => 42 });
  for (let i = 0; i < 5; i++) m.request(Op.PG_FLIP, 0);
  m.request(Op.DBUF_CREATE, -XEN_EINVAL);
  m.request(Op.DBUF_CREATE, -XEN_ENOMEM);
  m.request(Op.DBUF_CREATE, -XEN_ENOMEM);
  m.request(0x99, -XEN_EINVAL);
  m.flipDone(500_000, true); // 0.5 ms
  m.flipDone(16_000_000, true); // 16 ms
  m.flipDone(2_000_000_000, false); // 2 s
  const conn1 = counters(10, 1);
  probe.devs = [device(1, 'connected', [conn1, counters(3, 0)]), device(2, 'failed'), device(3, 'initwait')];
  probe.fallbackCounts = { 'dma-buf export refused': 4 };
  probe.copied = { 'HDMI-A-1': 4096, 'DP-1': 0 };

  let fams = parse(await m.text());
  assert.equal(value(fams, 'vdispld_requests_total', { op: 'PG_FLIP', result: 'ok' }), 5);
  assert.equal(value(fams, 'vdispld_requests_total', { op: 'DBUF_CREATE', result: 'ENOMEM' }), 2);
  assert.equal(value(fams, 'vdispld_requests_total', { op: 'DBUF_CREATE', result: 'EINVAL' }), 1);
  assert.equal(value(fams, 'vdispld_requests_total', { op: 'unknown', result: 'EINVAL' }), 1);
  const h = family(fams, 'vdispld_flip_latency_seconds');
  assert.equal(h.type, 'HISTOGRAM');
  assert.equal(Number(h.metrics[0]!.count), 3);
  assert.ok(Math.abs(Number(h.metrics[0]!.sum) - 2.0165) < 1e-9);
  assert.equal(Number(h.metrics[0]!.buckets!['0.001']), 1);
  assert.equal(Number(h.metrics[0]!.buckets!['0.0167']), 2);
  assert.equal(Number(h.metrics[0]!.buckets!['1']), 2);
  assert.equal(Number(h.metrics[0]!.buckets!['3']), 3);
  assert.equal(value(fams, 'vdispld_frames_shown_total', { domid: '1', dev: '0', connector: '0' }), 10);
  assert.equal(value(fams, 'vdispld_frames_dropped_total', { domid: '1', dev: '0', connector: '0' }), 1);
  assert.equal(value(fams, 'vdispld_frames_shown_total', { domid: '1', dev: '0', connector: '1' }), 3);
  assert.equal(value(fams, 'vdispld_grant_mappings'), 7);
  assert.equal(value(fams, 'vdispld_mapped_pages'), 1234);
  assert.equal(value(fams, 'vdispld_buffers'), 3);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'dma-buf', buffer: 'guest' }), 2);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'copied', buffer: 'guest' }), 1);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'mapped', buffer: 'guest' }), 3);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'dma-buf', buffer: 'be-alloc' }), 1);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'copied', buffer: 'be-alloc' }), 0);
  assert.equal(value(fams, 'vdispld_shown_framebuffers', { path: 'mapped', buffer: 'be-alloc' }), 0);
  assert.equal(value(fams, 'vdispld_copy_fallbacks_total', { reason: 'dma-buf export refused' }), 4);
  assert.equal(value(fams, 'vdispld_copied_bytes_total', { output: 'HDMI-A-1' }), 4096);
  assert.equal(
    value(fams, 'vdispld_copied_bytes_total', { output: 'DP-1' }),
    0,
    'an output that copied nothing yet has its series at 0',
  );
  assert.equal(value(fams, 'vdispld_guest_devices', { state: 'connected' }), 1);
  assert.equal(value(fams, 'vdispld_guest_devices', { state: 'failed' }), 1);
  assert.equal(value(fams, 'vdispld_guest_devices', { state: 'removed' }), 0);
  assert.equal(value(fams, 'vdispld_log_lines_suppressed_total'), 42);
  assert.ok(family(fams, 'nodejs_eventloop_lag_seconds'));
  assert.ok(family(fams, 'process_resident_memory_bytes'));

  // More flips on the same connection, then a reconnect: the backend's counters restart, ours do not.
  (conn1 as { flipsShown: number }).flipsShown = 15;
  fams = parse(await m.text());
  assert.equal(value(fams, 'vdispld_frames_shown_total', { domid: '1', dev: '0', connector: '0' }), 15);
  probe.devs = [device(1, 'connected', [counters(4, 2), counters(3, 0)])];
  fams = parse(await m.text());
  assert.equal(value(fams, 'vdispld_frames_shown_total', { domid: '1', dev: '0', connector: '0' }), 19);
  assert.equal(value(fams, 'vdispld_frames_dropped_total', { domid: '1', dev: '0', connector: '0' }), 3);
  // A guest that is gone takes its series with it.
  probe.devs = [];
  fams = parse(await m.text());
  assert.equal(family(fams, 'vdispld_frames_shown_total').metrics.length, 0);

  // Prometheus naming: snake_case, counters end in _total, units spelled out.
  for (const f of fams) {
    assert.match(f.name, /^[a-z_][a-z0-9_]*$/);
    if (f.type === 'COUNTER') assert.match(f.name, /_total$/, f.name);
    if (f.name.startsWith('vdispld_')) assert.ok(f.help.length > 10, `${f.name} has help`);
  }
  assert.equal(resultName(-110), 'ETIMEDOUT');
  assert.equal(resultName(0), 'ok');
  assert.equal(resultName(-126), 'E126', 'an errno without a name in the table');
});

void test('no copied-bytes series for an output that does not count them', async () => {
  const probe = new FakeProbe();
  probe.copied = undefined;
  const m = new Metrics(probe, { processMetrics: false });
  const fams = parse(await m.text());
  assert.equal(
    fams.find((f) => f.name === 'vdispld_copied_bytes_total'),
    undefined,
  );
  assert.equal(
    fams.find((f) => f.name.startsWith('process_')),
    undefined,
  );
});

void test('the dom0-wide budget: limit, use, share and refusals by kind, and each guest holdings', async () => {
  const m = new Metrics(new FakeProbe(), { processMetrics: false });
  const fams = parse(await m.text());
  assert.equal(value(fams, 'vdispld_dom0_budget_limit', { kind: 'mapped_pages' }), 131072);
  assert.equal(value(fams, 'vdispld_dom0_budget_used', { kind: 'mapped_pages' }), 9000);
  assert.equal(value(fams, 'vdispld_dom0_budget_share', { kind: 'fds' }), 170);
  assert.equal(value(fams, 'vdispld_dom0_budget_refused_total', { kind: 'mapped_pages' }), 4);
  assert.equal(value(fams, 'vdispld_dom0_budget_guest_used', { domid: '3', kind: 'mapped_pages' }), 8000);
  assert.equal(value(fams, 'vdispld_dom0_budget_guest_used', { domid: '4', kind: 'fds' }), 0);
});

void test('HTTP: GET /metrics on loopback, 404 elsewhere, idempotent close', async () => {
  const m = new Metrics(new FakeProbe(), { processMetrics: false });
  m.request(Op.SET_CONFIG, 0);
  const srv = await MetricsServer.listen({ host: '127.0.0.1', port: 0 }, m);
  try {
    assert.equal(srv.address.host, '127.0.0.1');
    const r = await fetch(`http://127.0.0.1:${srv.address.port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(value(parse(await r.text()), 'vdispld_requests_total', { op: 'SET_CONFIG', result: 'ok' }), 1);
    const r404 = await fetch(`http://127.0.0.1:${srv.address.port}/`);
    assert.equal(r404.status, 404);
    await r404.text();
    const r405 = await fetch(`http://127.0.0.1:${srv.address.port}/metrics`, { method: 'POST' });
    assert.equal(r405.status, 405);
    await r405.text();
    await assert.rejects(
      MetricsServer.listen({ host: '127.0.0.1', port: srv.address.port }, m),
      /metrics listener 127\.0\.0\.1:\d+: .*EADDRINUSE/,
    );
  } finally {
    await srv.close();
    await srv.close();
  }
});
