// Start-up: from spawn() to READY=1 on $NOTIFY_SOCKET, as systemd sees a Type=notify service
// start, on a simulated host with no guests yet. vdispld's READY means it joined the hypervisor
// and XenStore and watches for devices; the floor's means it joined the hypervisor. Alternating
// runs; every process is stopped before the next starts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { SimHost } from '../../src/sim/index.js';
import { startDaemon, startFloor } from '../lib/backends.js';
import type { BenchContext } from '../lib/context.js';
import { figure, type Figure } from '../lib/figures.js';
import { NotifySocket } from '../lib/notify.js';
import { REPO } from '../lib/build.js';
import { removeOnExit, track } from '../lib/children.js';

/**
 * Node itself: a process that loads nothing but our addon and says READY. What no JavaScript
 * daemon can start faster than on this machine.
 */
async function bareNode(notify: NotifySocket): Promise<number> {
  const addon = join(REPO, 'build', 'Release', 'vdispl_native.node');
  const script = `require(${JSON.stringify(addon)}).sdNotify(process.env.NOTIFY_SOCKET, 'READY=1\\n')`;
  const t0 = process.hrtime.bigint();
  const child = track(
    spawn(process.execPath, ['-e', script], { env: { NOTIFY_SOCKET: notify.path }, stdio: 'ignore' }),
  );
  const at = await notify.nextReady(30_000);
  if (child.exitCode === null) await once(child, 'exit');
  return Number(at - t0) / 1e6;
}

export async function startupSuite(ctx: BenchContext): Promise<Figure[]> {
  const host = await SimHost.start();
  const forgetDir = removeOnExit(host.dir);
  const notify = new NotifySocket();
  const runs = { vdispld: [] as number[], floor: [] as number[], node: [] as number[] };
  try {
    // One start of each before counting: the first exec of node pulls its files into the page cache.
    const rounds = ctx.opts.rounds + 1;
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['floor', 'vdispld'] as const) : (['vdispld', 'floor'] as const);
      for (const who of order) {
        const b =
          who === 'vdispld'
            ? await startDaemon({
                mainJs: ctx.daemonJs,
                host,
                notify,
                headless: [],
                controlSocket: join(host.dir, 'control.sock'),
                nodeArgs: ctx.daemonNodeArgs('startup'),
              })
            : await startFloor({ exe: ctx.floors.ring, host, notify, domid: 0, vblankHz: 0 });
        await b.stop();
        if (r > 0) runs[who].push(b.readyMs);
      }
      const node = await bareNode(notify);
      if (r > 0) runs.node.push(node);
      if (r > 0)
        ctx.log(
          `start-up ${r}/${rounds - 1}: vdispld ${runs.vdispld.at(-1)!.toFixed(0)} ms to READY (floor ${runs.floor.at(-1)!.toFixed(1)} ms)`,
        );
    }
  } finally {
    await host.close();
    forgetDir();
    notify.close();
  }
  return [
    figure({
      id: 'startup.ready',
      section: 'Start-up',
      what: 'process start to READY=1',
      unit: 'ms',
      vdispld: runs.vdispld,
      floorName: 'C ring floor',
      floor: runs.floor,
      target: (f) => ({ text: 'under 300 ms', met: f.vdispld.median < 300 }),
    }),
    figure({
      id: 'startup.ready-vs-node',
      section: 'Start-up',
      what: 'process start to READY=1, against node itself',
      unit: 'ms',
      vdispld: runs.vdispld,
      floorName: 'node -e (addon + READY only)',
      floor: runs.node,
    }),
  ];
}
