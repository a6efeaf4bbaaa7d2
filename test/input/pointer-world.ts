// The daemon on a simulated host with focus following the pointer, and guests named as given, each
// with one display connector `id0` and a vkbd of the same unique-id, both connected.
import { Daemon, type DaemonOptions } from '../../src/daemon.js';
import { SimHost, type SimGuest } from '../../src/sim/host.js';
import { silentLogger } from '../../src/util/log.js';

export async function withPointerDaemon(
  opts: Pick<DaemonOptions, 'headlessOutputs' | 'connectorMap' | 'layouts'>,
  guests: readonly (readonly [name: string, resolution: string])[],
  body: (daemon: Daemon, guests: SimGuest[]) => Promise<void>,
): Promise<void> {
  const host = await SimHost.start();
  const daemon = await Daemon.start(
    {
      platform: 'sim',
      simDir: host.dir,
      xenstore: host.xenstoredPath,
      output: 'headless',
      inputFocus: 'pointer',
      ...opts,
    },
    silentLogger(),
  );
  const made: SimGuest[] = [];
  try {
    for (const [name, res] of guests) {
      const g = await host.createDomain({
        name,
        vdispl: [`connectors=id0:${res}`],
        vkb: ['backend-type=linux,unique-id=id0'],
        frontend: { kind: 'display', maxFps: 20 },
        verbose: false,
      });
      made.push(g);
      await g.waitFor((r) => r.kind === 'kbd-connected', { timeoutMs: 20_000 });
      await g.waitFor((r) => r.kind === 'connected', { timeoutMs: 20_000 });
    }
    await body(daemon, made);
  } finally {
    for (const g of made) await host.destroyDomain(g.domid);
    await daemon.stop();
    await host.close();
  }
}
