// Found by the faults campaign: an output whose flip() threw (instead of reporting the failure
// through its callback) raised out of the ring service into the event loop — an uncaught exception
// that takes a real daemon down with every guest — and left the request unanswered, so the guest
// timed out on every later request. Now the flip counts as dropped, its event still comes, and
// the connector keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisplayBackend } from '../../../src/backend/backend.js';
import { OutputMap } from '../../../src/backend/output-map.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { ScriptStep } from '../../../src/sim/frontend/protocol.js';
import { SimHost } from '../../../src/sim/host.js';
import { silentLogger } from '../../../src/util/log.js';
import { FailingBackend } from '../lib/failing-output.js';

void test('an output whose flip() throws costs the guest one dropped frame, not the daemon', async () => {
  const host = await SimHost.start();
  const platform = await host.platform();
  const inner = new HeadlessBackend([{ name: 'out0', width: 160, height: 120 }]);
  const failing = new FailingBackend(inner, { dropEvery: 0, throwEvery: 2, refuseModesets: 0 });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  let backend: DisplayBackend | undefined;
  try {
    backend = await DisplayBackend.start({
      xs: await host.xenstore(0),
      platform,
      outputs: new OutputMap({
        backends: [failing, inner],
        onDemand: inner,
        connectorMap: new Map([['flaky/out0', 'out0']]),
      }),
      log: silentLogger(),
    });
    const g = await host.createDomain({
      name: 'flaky',
      vdispl: ['connectors=out0:160x120'],
      frontend: { kind: 'idle' },
      verbose: false,
    });
    await g.waitFor((r) => r.kind === 'connected', { timeoutMs: 15_000 });
    const steps: ScriptStep[] = [
      { op: 'dumb-create', name: 'b0', width: 160, height: 120, bpp: 32 },
      { op: 'add-fb', name: 'f0', buffer: 'b0', width: 160, height: 120, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'f0' },
      ...Array.from({ length: 8 }, () => ({ op: 'flip', conn: 0, fb: 'f0' }) as const),
      { op: 'disable', conn: 0 },
    ];
    const r = await g.run(steps);
    assert.deepEqual(uncaught, [], 'nothing escaped into the event loop');
    assert.deepEqual(
      r.map((s) => [s.op, s.status, s.flip ?? null]),
      [
        ['dumb-create', 0, null],
        ['add-fb', 0, null],
        ['enable', 0, null],
        ...Array.from({ length: 8 }, () => ['flip', 0, 'event']),
        ['disable', 0, null],
      ],
    );
    assert.equal(failing.injected, 4, 'every second flip threw');
    const stats = backend.status()[0]!.connectors[0]!.stats;
    assert.equal(stats.flipsDropped, 4);
    assert.equal(stats.flipsShown, 4);
    await host.destroyDomain(g.domid);
    await backend.settled();
    assert.deepEqual(platform.resources(), {
      grantMappings: 0,
      mappedPages: 0,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      eventChannels: 0,
    });
  } finally {
    await backend?.close();
    process.off('uncaughtException', onUncaught);
    await inner.close();
    await host.close();
  }
});
