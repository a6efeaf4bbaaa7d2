// A guest that floods a doorbell (writes into the backend's FIFO without pause, past any
// notification the protocol needs) must not hold the backend's process: each take reads a bounded
// amount, the event loop keeps turning, and the other ports of the same process keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import { until, withHypervisor } from './helpers.js';

void test('a flooded doorbell does not stall the process that owns it, nor its other ports', async () => {
  await withHypervisor('bellstorm', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 64 });
    const be = await DomainKernel.connect(dir, 0);
    const guest = await DomainKernel.connect(dir, 1);
    let flooder: ReturnType<typeof spawn> | undefined;
    try {
      const floodedRemote = await guest.allocUnbound(0);
      const quietRemote = await guest.allocUnbound(0);
      let flooded = 0;
      let quiet = 0;
      const floodedPort = await be.bindInterdomain(1, floodedRemote);
      be.hv.listen(floodedPort, () => flooded++);
      const quietPort = await be.bindInterdomain(1, quietRemote);
      be.hv.listen(quietPort, () => quiet++);
      await until(() => flooded === 1 && quiet === 1, 5000, 'the bind events');

      const name = readdirSync(join(dir, 'xen', 'evtchn')).find((f) => f.startsWith(`dom0-port${floodedPort}-`));
      assert.ok(name, 'the backend port has a doorbell file');
      // The hostile peer: opens the doorbell itself and writes without end.
      flooder = spawn('sh', ['-c', `exec yes > '${join(dir, 'xen', 'evtchn', name)}'`], { stdio: 'ignore' });
      await until(() => flooded > 3, 10_000, 'the flood to be seen');

      // The loop keeps turning: timers fire while the flood goes on.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      try {
        await until(() => ticks >= 20, 20_000, 'timers to keep firing under the flood');
      } finally {
        clearInterval(timer);
      }
      // The other port of the same set is still served.
      guest.notify(quietRemote);
      await until(() => quiet === 2, 10_000, "the quiet port's event under the flood");
    } finally {
      flooder?.kill('SIGKILL');
      be.close();
      guest.close();
    }
  });
});
