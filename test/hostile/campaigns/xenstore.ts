// XenStore abuse: a guest writes garbage, huge and rapidly changing values into every node it may
// write (its state, version, ring refs and event channels), flaps its state through every
// XenbusState and beyond, removes its ring nodes mid-handshake, and tries the toolstack's
// read-only nodes — with its own XenStore connection, so Xen's permissions apply. Meanwhile a good
// guest flips. Pass: the read-only nodes stay the toolstack's, the daemon survives at a bounded CPU
// cost, the good guest is unaffected, and when the abuser's kernel starts properly it is served.
// Then a guest rewrites its connector directories to take other guests' outputs (routing.ts).
import { prng } from '../../../src/sim/frontend/hostile.js';
import { startGuestKernel } from '../lib/guest-process.js';
import { CampaignResult } from '../lib/result.js';
import { startWorld } from '../lib/world.js';
import { closing, goodGuest, judgeGoodGuest } from './common.js';
import { routingAttacks, routingDaemonArgs } from './routing.js';

export interface XenstoreCampaignOptions {
  readonly writes: number;
  readonly seed: number;
  readonly maxCpuShare: number;
  /** Measure the daemon (event-loop lag, CPU profile) into this directory. */
  readonly probeDir?: string;
}

export const XENSTORE_FULL: XenstoreCampaignOptions = { writes: 50_000, seed: 0x5705e, maxCpuShare: 0.8 };
export const XENSTORE_SHORT: XenstoreCampaignOptions = { writes: 1500, seed: 0x5705e, maxCpuShare: 0.8 };

export async function xenstoreCampaign(o: XenstoreCampaignOptions): Promise<CampaignResult> {
  const res = new CampaignResult('xenstore');
  const rand = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const w = await startWorld({ extraArgs: routingDaemonArgs(), ...(o.probeDir ? { probeDir: o.probeDir } : {}) });
  try {
    const good = await goodGuest(w);
    const t0 = Date.now();
    // The abuser: a domain with a device but no driver; the campaign writes as that domain.
    const abuser = await w.host.createDomain({ vdispl: ['connectors=x0:320x240;x1:160x120'], frontend: false });
    const xs = await w.host.xenstore(abuser.domid);
    const fe = `/local/domain/${abuser.domid}/device/vdispl/0`;
    const guestNodes = [
      'state',
      'version',
      ...[0, 1].flatMap((c) =>
        ['req-ring-ref', 'req-event-channel', 'evt-ring-ref', 'evt-event-channel'].map((k) => `${c}/${k}`),
      ),
    ];
    // What libxl writes read-only for the guest. (`backend` and `backend-id` are the guest's to
    // write, as in libxl: a guest that scribbles there only loses its own device.)
    const readOnly = ['be-alloc', '0/resolution', '0/unique-id', '1/resolution', '1/unique-id'];
    const huge = 'x'.repeat(4000);
    const garbage = (): string =>
      pick([
        '',
        '-1',
        '0',
        '4',
        '3',
        '6',
        '99',
        '4294967296',
        '18446744073709551616',
        '0x10',
        ' 3',
        '3 ',
        '1e3',
        '3\n',
        '\u0000',
        '\u00ff\u00fe',
        huge,
        String(Math.floor(rand() * 70000)),
        String(Math.floor(rand() * 2 ** 32)),
      ]);
    const cpu0 = w.daemon.sample();
    let writes = 0;
    let refused = 0;
    let removed = 0;
    let readOnlyWritten = 0;
    for (let i = 0; i < o.writes; i++) {
      const r = rand();
      try {
        if (r < 0.35) {
          // State flapping, the handshake's states and impossible ones.
          await xs.write(`${fe}/state`, pick(['1', '2', '3', '4', '5', '6', '7', '8', '0', '3', '4', garbage()]));
        } else if (r < 0.8) {
          await xs.write(`${fe}/${pick(guestNodes)}`, garbage());
        } else if (r < 0.9) {
          // A handshake written in one transaction, then torn up.
          await xs.transaction(async (t) => {
            for (const c of [0, 1]) {
              await t.write(`${fe}/${c}/req-ring-ref`, String(8 + Math.floor(rand() * 64)));
              await t.write(`${fe}/${c}/req-event-channel`, String(1 + Math.floor(rand() * 64)));
              await t.write(`${fe}/${c}/evt-ring-ref`, String(8 + Math.floor(rand() * 64)));
              await t.write(`${fe}/${c}/evt-event-channel`, String(1 + Math.floor(rand() * 64)));
            }
            await t.write(`${fe}/state`, '3');
          });
          await xs.rm(`${fe}/${pick([0, 1])}/${pick(['req-ring-ref', 'evt-event-channel'])}`);
          removed++;
        } else {
          await xs.write(`${fe}/${pick(readOnly)}`, garbage());
          readOnlyWritten++;
        }
        writes++;
      } catch {
        refused++;
      }
    }
    // Nodes it removed come back as the driver writes them; its state back to where a kernel starts.
    await xs.write(`${fe}/state`, '1');
    await xs.rm(`${fe}/version`).catch(() => undefined);
    const seconds = (Date.now() - t0) / 1000;
    const cpu1 = w.daemon.sample();
    const share = (cpu1.cpuSeconds - cpu0.cpuSeconds) / seconds;
    res.set('guest writes done / refused by permissions', `${writes} / ${refused}`);
    res.set('ring nodes removed mid-handshake', removed);
    res.set('daemon CPU during the abuse, % of one core', Math.round(share * 1000) / 10);
    res.check(share <= o.maxCpuShare, `XenStore abuse cost the daemon ${(share * 100).toFixed(1)}% of a core`);
    const toolstack = w.host.xs;
    res.check(readOnlyWritten === 0, `${readOnlyWritten} writes to read-only nodes were accepted`);
    res.check(
      (await toolstack.read(`${fe}/0/resolution`)) === '320x240' && (await toolstack.read(`${fe}/be-alloc`)) === '0',
      'a guest changed a read-only node',
    );
    res.check(w.daemon.alive, `the daemon died: ${JSON.stringify(w.daemon.exit)}\n${w.daemon.log.slice(-2000)}`);

    // The abuser's kernel now starts for real: it must be served (the device is not stuck).
    const kernel = await startGuestKernel(w.host, abuser.domid, { behaviour: { kind: 'display', maxFps: 60 } });
    let served = true;
    try {
      await kernel.waitFor((r) => r.kind === 'frame' && r.flip === 'event' && r.frame >= 10, { timeoutMs: 30_000 });
    } catch {
      served = false;
    }
    res.check(
      served,
      `after the abuse, the guest starting its driver properly was not served; it reported ${JSON.stringify(kernel.reports.slice(-6))}`,
    );
    res.set('abuser served after it behaved', served);
    kernel.process?.kill('SIGSTOP');
    try {
      const routed = await routingAttacks(w, res, good.guest);
      judgeGoodGuest(res, good, (Date.now() - t0) / 1000);
      await closing(w, res, [abuser, good.guest, ...routed]);
    } finally {
      // Stopped, it would never exit: a failure above must not leave the run waiting for it.
      kernel.process?.kill('SIGKILL');
      await kernel.exited;
    }
  } finally {
    await w.close();
  }
  return res;
}
