// Event channels across processes: a guest process and the backend's platform notify each other by
// ringing each other's doorbells (the hypervisor only when a peer is not known yet); notifications
// to a busy receiver coalesce as in Xen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../../src/native/addon.js';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import { HvOp } from '../../src/sim/hv/wire.js';
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

void test('notify wakes the other process both ways, doorbell to doorbell; a busy receiver sees 1000 notifications as 1 event', async () => {
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
      while ((guestEvents = await guestCount(child)) < 1 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
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
      // One notification per event-loop turn, so each is its own ring (sends of one turn coalesce
      // before they leave): a thousand bytes wait in the guest's doorbell.
      for (let i = 0; i < 1000; i++) {
        ch.notify();
        await new Promise((r) => setImmediate(r));
      }
      await be.sync();
      writeFileSync(done, '');
      const after = (await counted).events!;
      assert.equal(after, 2, 'everything pending while the guest was busy is one event');
      // Both sides rang each other directly: the hypervisor set no pending bit for them, beyond
      // the one every bind sets on the binder's port.
      assert.equal(hv.evtchnStats(1, port!)!.notifications, 0);
      assert.equal(hv.evtchnStats(0, ch.localPort)!.notifications, 1);

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

void test("binding checks the remote port as Xen does, and a dead process's ports are closed", async () => {
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
      assert.equal(
        await bindErr(be.bindEventChannel(domId(1), evtchnPort(forTwo), () => {})),
        22,
        'offered to dom2, not dom0',
      );
      assert.equal(await bindErr(be.bindEventChannel(domId(1), evtchnPort(999), () => {})), 22, 'no such port');
      assert.equal(await bindErr(be.bindEventChannel(domId(9), evtchnPort(1), () => {})), 3, 'no such domain: ESRCH');
      const p2 = await g2.bindInterdomain(1, forTwo);
      assert.ok(p2 > 0);
      assert.equal(await bindErr(g2.bindInterdomain(1, forTwo)), 22, 'already bound');
      const forZero = await g1.allocUnbound(0);
      const ch = await be.bindEventChannel(domId(1), evtchnPort(forZero), () => {});
      g1.close();
      await until(() => hv.portCount(1) === 0, 5000, "the guest's ports to close");
      assert.deepEqual(hv.evtchnStats(0, ch.localPort)!.binding, { kind: 'unbound', remoteDomid: 1 });
      ch.close();
    } finally {
      g1.close();
      g2.close();
      await be.close();
    }
  });
});

void test("a send through the hypervisor rings the doorbell too; a closed port's doorbell and descriptors go with it", async () => {
  await withHypervisor('evtbell', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 64 });
    const before = native().nativeResources();
    const bells = (): string[] => readdirSync(join(dir, 'xen', 'evtchn'));
    const g0 = await DomainKernel.connect(dir, 0);
    const g1 = await DomainKernel.connect(dir, 1);
    try {
      let ev0 = 0;
      let ev1 = 0;
      const p1 = await g1.allocUnbound(0);
      g1.hv.listen(p1, () => ev1++);
      const p0 = await g0.bindInterdomain(1, p1);
      g0.hv.listen(p0, () => ev0++);
      await until(() => ev0 === 1, 5000, 'the bind event');
      assert.equal(bells().length, 2, 'one doorbell per port');

      // EVTCHNOP_send as a process that does not know its peer's doorbell makes it.
      g0.hv.send(HvOp.EvtchnNotify, [p0]);
      await until(() => ev1 === 1, 5000, 'the event the hypervisor rang');
      assert.equal(hv.evtchnStats(1, p1)!.notifications, 1);
      g1.notify(p1);
      await until(() => ev0 === 2, 5000, 'the direct ring');

      g1.closePort(p1);
      await g1.sync();
      assert.deepEqual(hv.evtchnStats(0, p0)!.binding, { kind: 'unbound', remoteDomid: 1 });
      assert.equal(bells().length, 1, "the closed port's doorbell is gone");
      await g0.sync(); // the peer change has reached g0: its sends go to the hypervisor, which drops them
      g0.notify(p0);
      await g0.sync();
      assert.equal(hv.evtchnStats(0, p0)!.notifications, 1, 'only the bind set it');
      assert.equal(ev1, 1, 'nothing reaches a closed port');
    } finally {
      g0.close();
      g1.close();
    }
    await until(() => hv.portCount(0) === 0 && hv.portCount(1) === 0, 5000, 'the ports to close');
    assert.deepEqual(bells(), []);
    const after = native().nativeResources();
    assert.equal(after.deviceFds, before.deviceFds, 'every doorbell descriptor closed');
    assert.equal(after.pollers, before.pollers, 'every doorbell poller closed');
  });
});
