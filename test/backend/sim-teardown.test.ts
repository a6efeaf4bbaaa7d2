// Multi-process: everything that ends a connection, each followed by proof that nothing is left:
// no grant mapping, no event-channel binding, no framebuffer, no zombie domain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XenbusState } from '../../src/displif/constants.js';
import { SimHost } from '../../src/sim/host.js';
import { waitFor } from './helpers/test-frontend.js';
import { assertClean, frames, killed, simWorld, spawnDaemon, troubles } from './helpers/sim-world.js';

void test('kill -9 of a frontend mid-flip, then domain destroy: everything released, no zombie', async () => {
  const w = await simWorld();
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:320x240;id1:320x240'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    await g.waitFor((r) => r.kind === 'frame' && r.frame >= 20, { timeoutMs: 30_000 });
    g.process!.kill('SIGKILL');
    await g.exited;
    // The domain is still there (only its kernel died): the backend still holds its pages.
    assert.ok(w.platform.resources().grantMappings > 0);
    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after kill -9 and destroy');
  } finally {
    await w.close();
  }
});

void test('domain destroyed while its buffers are mapped and flips are in flight', async () => {
  const w = await simWorld();
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:640x480', 'be-alloc=1,connectors=b0:320x240'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    await g.waitFor((r) => r.kind === 'frame' && r.devid === 1 && r.frame >= 10, { timeoutMs: 30_000 });
    await g.waitFor((r) => r.kind === 'frame' && r.devid === 0 && r.frame >= 10, { timeoutMs: 30_000 });
    assert.equal(w.backend.resources().connected, 2);
    assert.ok(w.platform.resources().grantedBuffers > 0, 'be-alloc pages granted to the guest');
    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after destroy with mapped buffers');
    assert.equal(w.backend.status().length, 0, 'the devices are forgotten');
  } finally {
    await w.close();
  }
});

void test('toolstack removal while the guest animates: Closed well inside 10 s, not forced', async () => {
  const w = await simWorld();
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:320x240'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
    const r = await w.host.removeVdispl(g.domid, 0);
    assert.deepEqual(r, { outcome: 'closed', forced: false });
    await assertClean(w, 'after removal');
    await waitFor('the device forgotten', () => w.backend.status().length === 0);
    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after destroy');
  } finally {
    await w.close();
  }
});

void test('frontend driver unload and reconnect: InitWait within its 1 s wait, then a fresh connection from event id 0', async () => {
  const w = await simWorld();
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:320x240'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
    // Record both ends' states in the order XenStore reports them.
    const xs = await w.host.xenstore(0);
    const be = `/local/domain/0/backend/vdispl/${g.domid}/0/state`;
    const fe = `/local/domain/${g.domid}/device/vdispl/0/state`;
    const seen: string[] = [];
    const record = (who: string, path: string) => () => void xs.tryRead(path).then((v) => seen.push(`${who}${v}`));
    const watches = [await xs.watch(be, record('be', be)), await xs.watch(fe, record('fe', fe))];
    g.send({ cmd: 'remove', devid: 0 });
    await g.waitFor((r) => r.kind === 'removed', { timeoutMs: 10_000 });
    await waitFor('the frontend Closed', () => seen.includes('fe6'));
    for (const wt of watches) await wt.close();
    // The frontend polls up to 1 s for InitWait after Closing; we must be there before it gives up
    // and goes Closed (it goes Closed either way, so the order is the proof).
    const closing = seen.indexOf('fe5');
    const initwait = seen.indexOf('be2', closing);
    assert.ok(closing >= 0 && initwait > closing && initwait < seen.lastIndexOf('fe6'), seen.join(' '));
    assert.equal(await xs.read(be), String(XenbusState.InitWait));
    await assertClean(w, 'after driver unload');
    // Hot re-plug (libxl reuses device id 0): the guest's bus probes it and connects again.
    await w.host.removeVdispl(g.domid, 0);
    const before = g.reports.length;
    const paths = await w.host.addVdispl(g.domid, 'connectors=id0:320x240');
    assert.equal(paths.devid, 0);
    await g.waitFor((r) => r.kind === 'connected' && g.reports.indexOf(r) >= before, { timeoutMs: 15_000 });
    await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10 && g.reports.indexOf(r) >= before, {
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      troubles({ ...g, reports: g.reports.slice(before) } as typeof g),
      [],
      'the new connection is clean (event ids from 0)',
    );
    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after destroy');
  } finally {
    await w.close();
  }
});

void test('daemon killed (-9) and restarted with guests running: they reconnect by themselves; then a clean stop', async () => {
  const host = await SimHost.start();
  let daemon = await spawnDaemon(host);
  try {
    const a = await host.createDomain({
      vdispl: ['connectors=id0:320x240'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    const b = await host.createDomain({
      vdispl: ['be-alloc=1,connectors=id0:256x192'],
      frontend: { kind: 'display' },
      verbose: true,
    });
    for (const g of [a, b]) await g.waitFor((r) => r.kind === 'frame' && r.frame >= 10, { timeoutMs: 30_000 });
    assert.ok((host.grantStats(0)?.mappings ?? 0) > 0);

    daemon.kill('SIGKILL');
    await killed(daemon);
    // The hypervisor drops a dead process's mappings and bindings, as Linux's gntdev release does.
    await waitFor('dom0 mappings released', () => host.grantStats(0)?.mappings === 0, 5000);
    const mark = a.reports.length;
    const markB = b.reports.length;
    daemon = await spawnDaemon(host);
    for (const [g, m] of [
      [a, mark],
      [b, markB],
    ] as const) {
      await g.waitFor((r) => r.kind === 'connected' && g.reports.indexOf(r) >= m, { timeoutMs: 30_000 });
      await g.waitFor((r) => r.kind === 'frame' && r.flip === 'event' && g.reports.indexOf(r) >= m, {
        timeoutMs: 30_000,
      });
    }
    // A graceful stop releases everything and tells the guests.
    const marks = [a.reports.length, b.reports.length];
    daemon.kill('SIGTERM');
    await killed(daemon);
    assert.equal(daemon.exitCode, 0);
    assert.equal(host.grantStats(0)?.mappings, 0);
    for (const [i, g] of [a, b].entries())
      await g.waitFor((r) => r.kind === 'disconnected' && g.reports.indexOf(r) >= marks[i]!, { timeoutMs: 10_000 });
    await host.destroyDomain(a.domid, { deviceTimeoutMs: 1000 });
    await host.destroyDomain(b.domid, { deviceTimeoutMs: 1000 });
    await host.hypervisor.waitNoZombies(2000);
    assert.deepEqual(host.zombies(), []);
    assert.ok(frames(a).length > 0);
  } finally {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await killed(daemon);
    }
    await host.close();
  }
});
