// Event channels across processes: a guest process and the backend's platform notify each other
// through the simulated hypervisor; notifications to a busy receiver coalesce as in Xen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import { SimPlatform } from '../../src/sim/platform.js';
import { PlatformError } from '../../src/xen/platform.js';
import { domId, evtchnPort } from '../../src/util/ids.js';
import { until, withHypervisor } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/evtchn-guest.ts', import.meta.url));

interface Msg {
  readonly kind: string;
  readonly port?: number;
  readonly events?: number;
}

// Generous: a forked child compiles its TypeScript through tsx first, slow on a loaded 2-core machine.
function next(child: ChildProcess, kind: string, ms = 60_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${kind}' from the guest process`)), ms);
    const on = (m: Msg): void => {
      if (m.kind !== kind) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

async function guestCount(child: ChildProcess): Promise<number> {
  const reply = next(child, 'count');
  child.send({ cmd: 'count' });
  return (await reply).events!;
}

void test('notify wakes the other process both ways; a busy receiver sees 1000 notifications as 2 events', async () => {
  await withHypervisor('evtchn', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 64 });
    const be = await SimPlatform.connect({ dir });
    const child = fork(FIXTURE, [dir, '1'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      const { port } = await next(child, 'port');
      let events = 0;
      const ch = await be.bindEventChannel(domId(1), evtchnPort(port!), () => events++);
      assert.equal(be.resources().eventChannels, 1);
      // Xen sets a freshly bound port pending: the binder hears one event at once.
      await until(() => events === 1, 5000, 'the bind event');
      assert.equal(await guestCount(child), 0);

      ch.notify();
      let guestEvents = 0;
      const deadline = Date.now() + 5000;
      while ((guestEvents = await guestCount(child)) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(guestEvents, 1, 'dom0 -> guest');

      const notified = next(child, 'notified');
      child.send({ cmd: 'notify' });
      await notified;
      await until(() => events === 2, 5000, 'guest -> dom0');

      // Coalescing: the guest's event loop is busy while dom0 notifies 1000 times.
      const marker = join(dir, 'blocked');
      const done = join(dir, 'done');
      const counted = next(child, 'count');
      child.send({ cmd: 'block', marker, done });
      await until(() => existsSync(marker), 5000, 'the guest to block');
      for (let i = 0; i < 1000; i++) ch.notify();
      await be.sync();
      writeFileSync(done, '');
      const after = (await counted).events!;
      assert.equal(after, 3, 'one event delivered before the guest re-enabled the port, one for everything pending after');
      const stats = hv.evtchnStats(1, port!)!;
      assert.equal(stats.notifications, 1001);
      assert.equal(stats.deliveries, 3);

      // Unbound: the guest's port falls back to unbound and its notifications go nowhere.
      ch.close();
      ch.close();
      await be.sync();
      assert.deepEqual(hv.evtchnStats(1, port!)!.binding, { kind: 'unbound', remoteDomid: 0 });
      const again = next(child, 'notified');
      child.send({ cmd: 'notify' });
      await again;
      await be.sync();
      assert.equal(events, 2, 'no event after close');
      assert.equal(be.resources().eventChannels, 0);
      child.send({ cmd: 'exit' });
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      await be.close();
    }
  });
});

void test('binding checks the remote port as Xen does, and a dead process\'s ports are closed', async () => {
  await withHypervisor('evtbind', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 64 });
    await hv.createDomain({ domid: 2, ramPages: 64 });
    const be = await SimPlatform.connect({ dir });
    const g1 = await DomainKernel.connect(dir, 1);
    const g2 = await DomainKernel.connect(dir, 2);
    try {
      const forTwo = await g1.allocUnbound(2);
      const bindErr = (p: Promise<unknown>): Promise<number | undefined> =>
        p.then(
          () => undefined,
          (e: unknown) => (e instanceof PlatformError ? e.errno : -1),
        );
      assert.equal(await bindErr(be.bindEventChannel(domId(1), evtchnPort(forTwo), () => {})), 22, 'offered to dom2, not dom0');
      assert.equal(await bindErr(be.bindEventChannel(domId(1), evtchnPort(999), () => {})), 22, 'no such port');
      assert.equal(await bindErr(be.bindEventChannel(domId(9), evtchnPort(1), () => {})), 3, 'no such domain: ESRCH');
      const p2 = await g2.bindInterdomain(1, forTwo);
      assert.ok(p2 > 0);
      assert.equal(await bindErr(g2.bindInterdomain(1, forTwo)), 22, 'already bound');
      const forZero = await g1.allocUnbound(0);
      const ch = await be.bindEventChannel(domId(1), evtchnPort(forZero), () => {});
      g1.close();
      await until(() => hv.portCount(1) === 0, 5000, 'the guest\'s ports to close');
      assert.deepEqual(hv.evtchnStats(0, ch.localPort)!.binding, { kind: 'unbound', remoteDomid: 1 });
      ch.close();
    } finally {
      g1.close();
      g2.close();
      await be.close();
    }
  });
});
