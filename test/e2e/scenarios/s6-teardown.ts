// 6. Teardown: `xl destroy` of a guest that is drawing, and `xl vdispl-detach` of a connected display.
// Each time the backend must reach Closed within 1 s, xl must report no error, `xl list` must show no
// leftover (zombie) domain, and the daemon's live-resource counters must be back to zero.
import { hasCommand } from '../lib/daemon.js';
import { shq } from '../lib/dom0.js';
import type { Guest } from '../lib/guest.js';
import type { Ctx, Scenario } from '../lib/scenario.js';
import { backendPath } from '../lib/xs.js';
import { createGuest, DOM0_CONNECTOR, setArgs, startBackend, startModetest, waitConnected, waitForSmpte, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];

/**
 * Runs an xl command in dom0 while watching the backend's state node; prints the seconds from the
 * command's start until the node said Closed (6) or vanished, xl's exit status, and xl's output.
 */
function timedTeardown(xl: string, bePath: string): string {
  return `t0=$(cut -d' ' -f1 /proc/uptime); ${xl} > /tmp/xl.out 2>&1 & xp=$!; closed=; ` +
    `end=$(( $(date +%s) + 20 )); while [ "$(date +%s)" -lt $end ]; do ` +
    `st=$(xenstore-read ${shq(`${bePath}/state`)} 2>/dev/null || echo gone); ` +
    `case $st in 6|gone) closed=$(cut -d' ' -f1 /proc/uptime); break;; esac; sleep 0.02; done; ` +
    `wait $xp; rc=$?; echo "closed_after=$( [ -n "$closed" ] && echo "$closed $t0" | awk '{printf "%.2f", $1 - $2}' || echo never) st=$st rc=$rc"; cat /tmp/xl.out`;
}

async function connectAndDraw(ctx: Ctx, name: string): Promise<{ guest: Guest; domid: number }> {
  const { guest, domid } = await createGuest(ctx, CONNECTORS, false, name);
  const conn = await waitConnected(ctx, guest, domid, 1);
  await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
  await waitForSmpte(ctx, `${name}-drawing`, 800, 600, 45);
  return { guest, domid };
}

async function checkTeardown(ctx: Ctx, what: string, out: string, remaining: string[]): Promise<void> {
  const m = /closed_after=(\S+) st=(\S+) rc=(\d+)/.exec(out);
  const after = m && m[1] !== 'never' ? Number(m[1]) : Infinity;
  ctx.figure(`${what}: backend Closed after (s)`, m?.[1] ?? 'never');
  ctx.check(`${what}: backend reaches Closed within 1 s`, after <= 1, m?.[0] ?? out.trim());
  const xlOut = out.split('\n').slice(1).join('\n').trim();
  ctx.check(`${what}: xl exits 0 and reports no error`, m?.[3] === '0' && !/error|unable|fail/i.test(xlOut), xlOut || 'no output');
  const list = await ctx.dom0.run('xl list', 30);
  const names = list.split('\n').slice(1).filter((l) => l.trim()).map((l) => l.split(/\s+/)[0]!);
  ctx.check(`${what}: xl list shows exactly ${remaining.join(', ')} (no zombie)`, names.join(',') === remaining.join(','), names.join(' | '));
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
  ctx.check(`${what}: daemon's live-resource counters are zero`, counters.length > 0 && counters.every(([, v]) => v === 0),
    counters.length ? counters.map(([k, v]) => `${k}=${String(v)}`).join(' ') : 'no `resources` in the status document');
}

export const teardown: Scenario = {
  id: '6-teardown',
  title: 'teardown: xl destroy and xl vdispl-detach close the backend within 1 s, no zombie, counters zero',
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const a = await connectAndDraw(ctx, 'guest-a');
    const destroy = await ctx.dom0.run(timedTeardown('xl destroy guest-a', backendPath(a.domid)), 60);
    await checkTeardown(ctx, 'xl destroy', destroy, ['Domain-0']);

    const b = await connectAndDraw(ctx, 'guest-b');
    const detach = await ctx.dom0.run(timedTeardown('xl vdispl-detach guest-b 0', backendPath(b.domid)), 60);
    await checkTeardown(ctx, 'xl vdispl-detach', detach, ['Domain-0', 'guest-b']);
    const dri = await b.guest.exec('ls /dev/dri 2>&1; true', 20);
    ctx.figure('guest-b /dev/dri after detach', dri.out.trim() || '(empty)');
    const d2 = await ctx.dom0.exec('xl destroy guest-b', 60);
    ctx.check('xl destroy after detach exits 0', d2.rc === 0, d2.out.trim());
  },
};
