// A simulated guest: the process SimHost forks for a domain. It runs the guest kernel's view of
// Xen (DomainKernel), its xenbus frontend bus with the xen-drm-front driver, and guest
// userspace (a display, a script, or a hostile program) on each card, and reports what the guest
// sees to the parent over IPC. Its configuration comes as JSON in argv[2].
import { XenStoreClient, unixSocketTransport } from '../../xenstore/index.js';
import { DomainKernel } from '../domain-kernel.js';
import { FrontendBus } from './bus.js';
import { KbdBus } from './kbd-bus.js';
import type { DrmCard } from './card.js';
import type { FrontDevice } from './device.js';
import { DisplayApp } from './display-app.js';
import { HostileApp } from './hostile.js';
import { armCrash } from './crash-points.js';
import type { FrontendCommand, FrontendConfig, FrontendReport } from './protocol.js';
import { runScript, scriptNames, type ScriptNames } from './script.js';

interface App {
  stop(): Promise<void>;
}

function send(r: FrontendReport): void {
  if (process.connected) process.send!(r);
}

// A guest kernel does not die of one driver's bad day: report it (tests check for 'error') and go on.
process.on('unhandledRejection', (err: unknown) => {
  send({ kind: 'error', message: `unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` });
});

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as FrontendConfig;
  armCrash(cfg.crash);
  const verbose = cfg.verbose ?? true;
  const kernel = await DomainKernel.connect(cfg.dir, cfg.domid);
  const xs = await XenStoreClient.connect({ transport: unixSocketTransport(cfg.xenstoredPath), reconnect: false });
  const apps = new Map<FrontDevice, App>();
  const names = new WeakMap<DrmCard, ScriptNames>();

  const kbds = new KbdBus(xs, kernel, cfg.domid, send);
  const startApp = (dev: FrontDevice, card: DrmCard): void => {
    const b = cfg.behaviour;
    if (b.kind === 'display') {
      // The pointer of the vkbd whose unique-id is the connector's, drawn over the pattern.
      const ids: (string | undefined)[] = [];
      dev.connectors.forEach(
        (c, i) =>
          void xs.tryRead(`${c.path}/unique-id`).then(
            (v) => (ids[i] = v),
            () => undefined,
          ),
      );
      const pointer = (conn: number): { x: number; y: number } | undefined =>
        ids[conn] === undefined ? undefined : kbds.pointerFor(ids[conn]);
      const app = new DisplayApp(card, dev.devid, cfg.domid, b, send, verbose, pointer);
      apps.set(dev, app);
      app.start();
    } else if (b.kind === 'hostile') {
      const app = new HostileApp(dev, card, b, send);
      apps.set(dev, app);
      app.start();
    }
  };

  const bus = new FrontendBus(xs, kernel, cfg.domid, {
    report: send,
    verbose,
    cardUp: startApp,
    async cardDown(dev) {
      const app = apps.get(dev);
      apps.delete(dev);
      await app?.stop();
    },
  });

  let exiting = false;
  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await bus.close().catch(() => undefined);
    await kbds.close().catch(() => undefined);
    await xs.close().catch(() => undefined);
    kernel.close();
    process.exit(code);
  };
  // The domain is gone (destroyed) or the parent is: nothing left to be a guest for.
  kernel.hv.onClose(() => void exit(0));
  process.on('disconnect', () => void exit(0));

  process.on('message', (cmd: FrontendCommand) => {
    void (async () => {
      switch (cmd.cmd) {
        case 'run': {
          const dev =
            cmd.devid !== undefined ? bus.devices.get(cmd.devid) : [...bus.devices.values()].find((d) => d.card);
          const card = dev?.card;
          if (!dev || !card) {
            send({
              kind: 'script-result',
              id: cmd.id,
              results: [{ op: cmd.steps[0]?.op ?? 'sleep', status: -19, ms: 0 }],
            });
            return;
          }
          let n = names.get(card);
          if (!n) names.set(card, (n = scriptNames()));
          const results = await runScript({ card, domid: cfg.domid, ctrl: (c) => dev.pairs?.[c]?.ctrl }, cmd.steps, n);
          send({ kind: 'script-result', id: cmd.id, results });
          return;
        }
        case 'stop': {
          const running = [...apps.values()];
          apps.clear();
          await Promise.all(running.map((a) => a.stop()));
          return;
        }
        case 'remove':
          await bus.removeDevice(cmd.devid);
          return;
        case 'exit':
          await exit(0);
      }
    })().catch((err: unknown) =>
      send({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });

  await bus.start();
  await kbds.start();
  send({ kind: 'ready', domid: cfg.domid });
}

main().catch((err: unknown) => {
  send({ kind: 'error', message: `frontend failed to start: ${err instanceof Error ? err.message : String(err)}` });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 50).unref();
});
