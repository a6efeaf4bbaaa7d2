// Output routing under attack (part of the xenstore campaign): a guest owns its connector
// directories, so it can remove `0/` and write `0/unique-id` and `0/resolution` again with any
// value, and add connectors. It tries to land on the output dom0 gave another guest, on a dom0
// output by name, on another guest's mapping key and on another guest's own headless output;
// adds connectors past the bound; and rewrites its connector after Connected. Between attempts it
// restarts its kernel in place, so the daemon reads the tampered set at the next connect.
// Pass: the victim stays on its output and flips throughout, the attacker only ever gets its own
// mapped output or a headless output of its own, a device with too many connectors is refused,
// a rewrite after Connected moves nothing, and two guests mapped to one output share it first
// come, first served, with one log line.
import { controlRequest } from '../../../src/ops/control/control-client.js';
import { PROTOCOL_VERSION } from '../../../src/ops/control/protocol.js';
import type { DeviceReport, StatusReport } from '../../../src/ops/status/status-report.js';
import type { SimGuest } from '../../../src/sim/host.js';
import type { XenStoreClient } from '../../../src/xenstore/client.js';
import { killGuestKernel, startGuestKernel } from '../lib/guest-process.js';
import type { CampaignResult } from '../lib/result.js';
import { sleep, type World } from '../lib/world.js';

/** The dom0 outputs of the campaign's world: the victim's, the attacker's, and one nobody's. */
export const ROUTING_OUTPUTS = ['SCREEN-A', 'SCREEN-B', 'SCREEN-C'] as const;
export const VICTIM = { name: 'good', uniqueId: 'good0' } as const;
const ATTACKER = { name: 'attacker', uniqueId: 'a0' } as const;
const RIVAL = { name: 'rival', uniqueId: 'r0' } as const;
const MAX_CONNECTORS = 4;

/** `vdispld run` options for the world: three named outputs and the mappings dom0 configured. */
export function routingDaemonArgs(): string[] {
  return [
    ...ROUTING_OUTPUTS.flatMap((o) => ['--headless', `${o}=320x240`]),
    '--connector',
    `${VICTIM.name}/${VICTIM.uniqueId}=SCREEN-A`,
    '--connector',
    `${ATTACKER.name}/${ATTACKER.uniqueId}=SCREEN-B`,
    // The rival is mapped to the attacker's output too: a collision, first come first served.
    '--connector',
    `${RIVAL.name}/${RIVAL.uniqueId}=SCREEN-B`,
  ];
}

async function status(w: World): Promise<StatusReport> {
  const a = await controlRequest(w.daemon.controlSocket, { v: PROTOCOL_VERSION, cmd: 'status' });
  const h = a.header as { ok: boolean; status?: StatusReport; error?: string };
  if (!h.ok || !h.status) throw new Error(`status: ${h.error ?? 'no status'}`);
  return h.status;
}

function device(s: StatusReport, domid: number): DeviceReport | undefined {
  return s.devices.find((d) => d.domid === domid && d.devId === 0);
}

/**
 * Waits until the domain's device 0 is connected or has failed (or closed) with an error other
 * than `stale` (the one from before this attempt), with the status then.
 */
async function settle(
  w: World,
  domid: number,
  stale?: string | null,
  timeoutMs = 20_000,
): Promise<{ s: StatusReport; d: DeviceReport | undefined }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(w);
    const d = device(s, domid);
    const failed = (d?.state === 'failed' || d?.state === 'closed-retry') && d.error !== null && d.error !== stale;
    if (d && ((d.state === 'connected' && d.connectors.length > 0) || failed)) return { s, d };
    if (Date.now() > until) return { s, d };
    await sleep(50);
  }
}

function outputOf(s: StatusReport, domid: number): string[] {
  return device(s, domid)?.connectors.map((c) => c.output) ?? [];
}

/** Whose connectors are on `output` now: `domid/dev/index` keys. */
function holders(s: StatusReport, output: string): string[] {
  return s.devices.flatMap((d) => d.connectors.filter((c) => c.output === output).map((c) => c.key));
}

interface Attack {
  readonly name: string;
  /** The guest's own writes to its device directory, between two kernels. */
  tamper(xs: XenStoreClient, fe: string): Promise<void>;
}

/**
 * Unbinds the guest's driver: kills its kernel and says Closed, as xen-drm-front's removal does,
 * then waits until the daemon let the connection go.
 */
async function unbind(
  w: World,
  xs: XenStoreClient,
  fe: string,
  kernel: SimGuest,
  domid: number,
): Promise<string | null | undefined> {
  await killGuestKernel(kernel);
  await xs.write(`${fe}/state`, '6');
  const until = Date.now() + 20_000;
  for (;;) {
    const d = device(await status(w), domid);
    if (d?.state !== 'connected' || Date.now() > until) return d?.error;
    await sleep(20);
  }
}

/** Removes connector 0 and writes it again with `uniqueId` (the directory and nodes are then the guest's). */
async function rewrite(xs: XenStoreClient, fe: string, uniqueId: string, resolution = '320x240'): Promise<void> {
  await xs.rm(`${fe}/0`);
  await xs.write(`${fe}/0/unique-id`, uniqueId);
  await xs.write(`${fe}/0/resolution`, resolution);
}

export async function routingAttacks(w: World, res: CampaignResult, good: SimGuest): Promise<SimGuest[]> {
  const s0 = await status(w);
  res.check(
    outputOf(s0, good.domid).join() === 'SCREEN-A',
    `the victim was not on its mapped output SCREEN-A but on ${outputOf(s0, good.domid).join() || 'none'}`,
  );

  // The attacker first behaves: it gets its own mapping, SCREEN-B.
  const dom = await w.host.createDomain({
    name: ATTACKER.name,
    vdispl: [`connectors=${ATTACKER.uniqueId}:320x240`],
    frontend: false,
  });
  const fe = `/local/domain/${dom.domid}/device/vdispl/0`;
  const xs = await w.host.xenstore(dom.domid);
  let kernel = await startGuestKernel(w.host, dom.domid, {
    behaviour: { kind: 'display', maxFps: 30 },
    verbose: false,
  });
  const first = await settle(w, dom.domid);
  res.check(
    outputOf(first.s, dom.domid).join() === 'SCREEN-B',
    `the attacker before its attack was not on its mapped SCREEN-B but on ${outputOf(first.s, dom.domid).join() || 'none'} (${first.d?.error ?? first.d?.state})`,
  );

  // Another guest's headless output, by its name.
  const s1 = await status(w);
  const dedicated = s1.devices.flatMap((d) => d.connectors.map((c) => c.output)).find((o) => /^dom\d+\./.test(o));
  const victimKey = `${VICTIM.name}/${VICTIM.uniqueId}`;
  const attacks: Attack[] = [
    { name: 'a dom0 output nobody was given', tamper: (x, f) => rewrite(x, f, 'SCREEN-C') },
    { name: "another guest's unique-id", tamper: (x, f) => rewrite(x, f, VICTIM.uniqueId) },
    { name: "a dom0 output name (the victim's)", tamper: (x, f) => rewrite(x, f, 'SCREEN-A') },
    { name: "another guest's mapping key", tamper: (x, f) => rewrite(x, f, victimKey) },
    {
      name: `the victim's domid as a key (${good.domid}/${VICTIM.uniqueId})`,
      tamper: (x, f) => rewrite(x, f, `${good.domid}/${VICTIM.uniqueId}`),
    },
    ...(dedicated
      ? [
          {
            name: "another guest's headless output by name",
            tamper: (x: XenStoreClient, f: string) => rewrite(x, f, dedicated),
          },
        ]
      : []),
    {
      name: `${MAX_CONNECTORS * 2} connectors`,
      tamper: async (x, f) => {
        await rewrite(x, f, VICTIM.uniqueId);
        for (let i = 1; i < MAX_CONNECTORS * 2; i++) {
          await x.write(`${f}/${i}/unique-id`, i % 2 ? 'SCREEN-A' : `${VICTIM.uniqueId}${i}`);
          await x.write(`${f}/${i}/resolution`, '320x240');
        }
      },
    },
  ];
  let tried = 0;
  let stolen = 0;
  let refused = 0;
  let headless = 0;
  const restore = async (): Promise<void> => {
    for (const c of await xs.directory(fe)) if (/^\d+$/.test(c)) await xs.rm(`${fe}/${c}`);
    await xs.write(`${fe}/0/unique-id`, ATTACKER.uniqueId);
    await xs.write(`${fe}/0/resolution`, '320x240');
  };
  for (const a of attacks) {
    const stale = await unbind(w, xs, fe, kernel, dom.domid);
    await restore();
    try {
      await a.tamper(xs, fe);
    } catch (err) {
      res.check(
        false,
        `attack "${a.name}": the guest's own writes were refused (${(err as Error).message}); the attack did not run`,
      );
      continue;
    }
    kernel = await startGuestKernel(w.host, dom.domid, { behaviour: { kind: 'display', maxFps: 30 }, verbose: false });
    const { s, d } = await settle(w, dom.domid, stale);
    tried++;
    const outs = outputOf(s, dom.domid);
    const own = outs.every((o) => o.startsWith(`dom${dom.domid}.`));
    if (
      outs.some(
        (o) => (ROUTING_OUTPUTS as readonly string[]).includes(o) || (dedicated !== undefined && o === dedicated),
      )
    )
      stolen++;
    if (d?.state !== 'connected') refused++;
    else if (own) headless++;
    res.check(
      outs.every((o) => o.startsWith(`dom${dom.domid}.`)),
      `attack "${a.name}": the attacker got ${outs.join(', ')}, not a headless output of its own`,
    );
    res.check(
      (d?.connectors.length ?? 0) <= MAX_CONNECTORS,
      `attack "${a.name}": the attacker's device has ${d?.connectors.length} connectors, more than ${MAX_CONNECTORS}`,
    );
    res.check(
      holders(s, 'SCREEN-A').join() === `${good.domid}/0/0`,
      `attack "${a.name}": SCREEN-A shows ${holders(s, 'SCREEN-A').join(', ') || 'nobody'}, not the victim`,
    );
    if (a.name.endsWith('connectors')) {
      res.check(
        d?.state !== 'connected' && /more than 4/.test(d?.error ?? ''),
        `attack "${a.name}": the device was not refused with a clear error (${d?.state}: ${d?.error})`,
      );
    }
  }
  res.set(
    'routing attacks tried / stole an output / refused / own headless',
    `${tried} / ${stolen} / ${refused} / ${headless}`,
  );
  res.check(tried === attacks.length, `${attacks.length - tried} routing attacks did not run`);

  // Rewrite after Connected: back on SCREEN-B, then the guest rewrites its connector set while
  // the connection lives. Nothing moves; the connection keeps its output.
  const stale = await unbind(w, xs, fe, kernel, dom.domid);
  await restore();
  kernel = await startGuestKernel(w.host, dom.domid, { behaviour: { kind: 'display', maxFps: 30 }, verbose: false });
  const back = await settle(w, dom.domid, stale);
  res.check(
    outputOf(back.s, dom.domid).join() === 'SCREEN-B',
    `the attacker behaving again was not on SCREEN-B but on ${outputOf(back.s, dom.domid).join() || 'none'} (${back.d?.error ?? back.d?.state})`,
  );
  await xs.write(`${fe}/0/unique-id`, VICTIM.uniqueId);
  await xs.write(`${fe}/0/resolution`, '1024x768');
  await xs.write(`${fe}/1/unique-id`, 'SCREEN-A');
  await xs.write(`${fe}/1/resolution`, '320x240');
  await sleep(500);
  const after = await status(w);
  res.check(
    outputOf(after, dom.domid).join() === 'SCREEN-B' && device(after, dom.domid)?.state === 'connected',
    `a rewrite after Connected moved the attacker to ${outputOf(after, dom.domid).join() || 'none'} (${device(after, dom.domid)?.state})`,
  );
  res.check(
    holders(after, 'SCREEN-A').join() === `${good.domid}/0/0`,
    `after a rewrite after Connected SCREEN-A shows ${holders(after, 'SCREEN-A').join(', ') || 'nobody'}`,
  );
  res.set('rewrite after Connected: attacker on', outputOf(after, dom.domid).join() || 'none');

  // A collision: the rival is mapped to SCREEN-B as well; the attacker holds it, so the rival
  // gets a headless output of its own, and the daemon says so once however often it reconnects.
  const rival = await w.host.createDomain({
    name: RIVAL.name,
    vdispl: [`connectors=${RIVAL.uniqueId}:320x240`],
    frontend: false,
  });
  const rxs = await w.host.xenstore(rival.domid);
  let rk = await startGuestKernel(w.host, rival.domid, { behaviour: { kind: 'display', maxFps: 30 }, verbose: false });
  const r1 = await settle(w, rival.domid);
  const rStale = await unbind(w, rxs, `/local/domain/${rival.domid}/device/vdispl/0`, rk, rival.domid);
  rk = await startGuestKernel(w.host, rival.domid, { behaviour: { kind: 'display', maxFps: 30 }, verbose: false });
  const r2 = await settle(w, rival.domid, rStale);
  const rOut = [...outputOf(r1.s, rival.domid), ...outputOf(r2.s, rival.domid)];
  res.check(
    rOut.length === 2 && rOut.every((o) => o.startsWith(`dom${rival.domid}.`)),
    `the rival mapped to the taken SCREEN-B got ${rOut.join(', ') || 'nothing'} (${r2.d?.state}: ${r2.d?.error}), not a headless output of its own`,
  );
  res.check(
    holders(r2.s, 'SCREEN-B').join() === `${dom.domid}/0/0`,
    `SCREEN-B changed hands in a collision: ${holders(r2.s, 'SCREEN-B').join(', ')}`,
  );
  const lines = w.daemon.log.split('\n').filter((l) => l.includes('SCREEN-B') && l.includes('already shows')).length;
  res.set('collision log lines (rival connected twice)', lines);
  res.check(lines === 1, `the collision on SCREEN-B was logged ${lines} times, not once`);

  await killGuestKernel(rk);
  await killGuestKernel(kernel);
  await xs.close();
  await rxs.close();
  return [dom, rival];
}
