// 6. Teardown: `xl destroy` of a guest that is drawing, and `xl vdispl-detach` of a connected display.
// Each time the backend must reach Closed within 1 s of the daemon's first sight of the removal
// (timed by xenstored's access log; the figure from xl's start is reported too), xl must report no error, `xl list` must show no
// leftover (zombie) domain, and the daemon's live-resource counters must be back to zero.
import { hasCommand } from '../lib/daemon.js';
import type { Guest } from '../lib/guest.js';
import type { Ctx, Scenario } from '../lib/scenario.js';
import { parseAccessLog, teardownTimes } from '../lib/xs-access.js';
import { backendPath, frontendPath } from '../lib/xs.js';
import {
  createGuest,
  DOM0_CONNECTOR,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  waitForSmpte,
  type ConnectorSpec,
} from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];

/**
 * Runs an xl command in dom0 and prints dom0's clock (ms since the epoch, the clock xenstored's
 * access log uses) before and after it, xl's exit status, and xl's output.
 */
export function timedXl(xl: string): string {
  // busybox's date (the Arm64 lab's dom0) has no %N: there the clock comes from adjtimex
  const ms =
    'ms() { d=$(date +%s%3N); case $d in *N) adjtimex | awk \'/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%03d\\n", s, u/1000}\';; *) echo $d;; esac; }';
  return `${ms}; t0=$(ms); ${xl} > /tmp/xl.out 2>&1; rc=$?; t1=$(ms); echo "xl t0=$t0 t1=$t1 rc=$rc"; cat /tmp/xl.out`;
}

async function connectAndDraw(ctx: Ctx, name: string): Promise<{ guest: Guest; domid: number }> {
  const { guest, domid } = await createGuest(ctx, CONNECTORS, false, name);
  const conn = await waitConnected(ctx, guest, domid, 1);
  await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
  await waitForSmpte(ctx, `${name}-drawing`, 800, 600, 45);
  return { guest, domid };
}

export async function checkTeardown(
  ctx: Ctx,
  what: string,
  domid: number,
  out: string,
  remaining: string[],
): Promise<void> {
  const m = /xl t0=(\d+) t1=(\d+) rc=(\d+)/.exec(out);
  const xlOut = out.split('\n').slice(1).join('\n').trim();
  ctx.check(
    `${what}: xl exits 0 and reports no error`,
    m?.[3] === '0' && !/error|unable|fail/i.test(xlOut),
    xlOut || 'no output',
  );
  const t0 = Number(m?.[1] ?? NaN);
  // Timed from xenstored's own log: the toolstack's change, the daemon's first watch event, its
  // Closed. Budget: 1 s from the daemon's first sight (what it can influence); the whole figure
  // from xl's start is reported beside it.
  const log = await ctx.dom0.run('cat /var/log/xen/xenstored-access.log', 60);
  const t = teardownTimes(parseAccessLog(log), backendPath(domid), frontendPath(domid), t0 - 50);
  const s = (a?: number, b?: number): string =>
    a === undefined || b === undefined ? 'never' : ((b - a) / 1000).toFixed(3);
  ctx.figure(`${what}: xl start -> toolstack's first change (s)`, s(t0, t.toolstackAt));
  ctx.figure(`${what}: toolstack's change -> daemon's first watch event (s)`, s(t.toolstackAt, t.daemonSawAt));
  ctx.figure(`${what}: daemon's first watch event -> backend Closed (s)`, s(t.daemonSawAt, t.closedAt));
  ctx.figure(`${what}: xl start -> backend Closed, end to end (s)`, s(t0, t.closedAt));
  ctx.figure(`${what}: xl start -> xl done (s)`, m ? ((Number(m[2]) - t0) / 1000).toFixed(3) : 'unknown');
  const react =
    t.daemonSawAt !== undefined && t.closedAt !== undefined ? (t.closedAt - t.daemonSawAt) / 1000 : Infinity;
  ctx.check(
    `${what}: backend Closed within 1 s of the daemon's first sight of the removal`,
    react <= 1,
    `${s(t.daemonSawAt, t.closedAt)} s (Closed ${t.closedAt !== undefined && t.removedAt !== undefined && t.closedAt < t.removedAt ? 'before' : 'NOT before'} libxl removed the backend)`,
  );
  const list = await ctx.dom0.run('xl list', 30);
  const names = list
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.split(/\s+/)[0]!);
  ctx.check(
    `${what}: xl list shows exactly ${remaining.join(', ')} (no zombie)`,
    names.join(',') === remaining.join(','),
    names.join(' | '),
  );
  await checkCounters(ctx, what);
}

/** `vdispld status --json` reports live kernel resources under `resources`; all must be back to zero. */
async function checkCounters(ctx: Ctx, what: string): Promise<void> {
  if (!hasCommand('status')) {
    ctx.figure(`${what}: live-resource counters`, 'not checked: no `vdispld status` in the build yet');
    return;
  }
  const r = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js status --json', 90);
  if (!ctx.check(`${what}: vdispld status --json answers`, r.rc === 0, r.rc === 0 ? '' : r.out.trim())) return;
  const doc = JSON.parse(r.out) as { resources?: Record<string, unknown> };
  const counters = Object.entries(doc.resources ?? {}).filter(([, v]) => typeof v === 'number');
  ctx.check(
    `${what}: daemon's live-resource counters are zero`,
    counters.length > 0 && counters.every(([, v]) => v === 0),
    counters.length ? counters.map(([k, v]) => `${k}=${String(v)}`).join(' ') : 'no `resources` in the status document',
  );
}

export const teardown: Scenario = {
  id: '6-teardown',
  title: 'teardown: xl destroy and xl vdispl-detach close the backend within 1 s, no zombie, counters zero',
  async run(ctx) {
    // One guest after the other on dom0's screen: each is mapped by its domain name.
    await startBackend(ctx, { 'guest-a/id0': DOM0_CONNECTOR, 'guest-b/id0': DOM0_CONNECTOR });
    const a = await connectAndDraw(ctx, 'guest-a');
    const destroy = await ctx.dom0.run(timedXl('xl destroy guest-a'), 60);
    await checkTeardown(ctx, 'xl destroy', a.domid, destroy, ['Domain-0']);

    const b = await connectAndDraw(ctx, 'guest-b');
    const detach = await ctx.dom0.run(timedXl('xl vdispl-detach guest-b 0'), 60);
    await checkTeardown(ctx, 'xl vdispl-detach', b.domid, detach, ['Domain-0', 'guest-b']);
    const dri = await b.guest.exec('ls /dev/dri 2>&1; true', 20);
    ctx.figure('guest-b /dev/dri after detach', dri.out.trim() || '(empty)');
    const d2 = await ctx.dom0.exec('xl destroy guest-b', 60);
    ctx.check('xl destroy after detach exits 0', d2.rc === 0, d2.out.trim());
  },
};
