// 5. Restarts: the guest's program restarts (modetest killed and run again), the guest reboots
// (`xl reboot`: a new domain id, a new frontend), and the daemon restarts while the guest is up. After
// each, the guest's card comes back by itself and draws again. Consecutive steps draw different
// pictures (SMPTE bars, then modetest's plain grey), so a stale screen cannot pass for a new one.
import type { Guest } from '../lib/guest.js';
import type { Ctx, Scenario } from '../lib/scenario.js';
import { backendPath, frontendPath, waitValues } from '../lib/xs.js';
import {
  connectorArgs,
  createGuest,
  DOM0_CONNECTOR,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  waitForPicture,
  type ConnectorSpec,
  type Pattern,
} from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];

async function drawAndSee(
  ctx: Ctx,
  guest: Guest,
  domid: number,
  label: string,
  pattern: Pattern,
  card = 'card0',
): Promise<void> {
  const conn = await waitConnected(ctx, guest, domid, 1, card);
  await startModetest(guest, `mt-${label}`, setArgs(conn, CONNECTORS), pattern);
  await waitForPicture(ctx, label, pattern, 800, 600, 60);
}

async function waitNewDomid(ctx: Ctx, guest: Guest, old: number): Promise<number> {
  const out = await ctx.dom0.run(
    `end=$(( $(date +%s) + 90 )); while :; do d=$(xl domid ${guest.name} 2>/dev/null); ` +
      `[ -n "$d" ] && [ "$d" != ${old} ] && { echo $d; exit 0; }; [ "$(date +%s)" -ge $end ] && exit 1; sleep 0.2; done`,
    100,
  );
  return Number(out.trim());
}

export const restarts: Scenario = {
  id: '5-restarts',
  title: 'restarts: guest program, guest reboot (xl reboot), daemon restart; the card comes back and draws',
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS);
    await drawAndSee(ctx, guest, domid, 'first', 'smpte');

    await guest.killall('modetest');
    await drawAndSee(ctx, guest, domid, 'after-modetest-restart', 'plain');
    ctx.mark('program_restart_ok');

    const rb = await ctx.dom0.exec(`xl reboot ${guest.name}`, 60);
    ctx.check('xl reboot succeeds', rb.rc === 0, rb.out.trim());
    const newId = await waitNewDomid(ctx, guest, domid);
    ctx.check('the rebooted guest is a new domain', newId !== domid, `${domid} -> ${newId}`);
    await drawAndSee(ctx, guest, newId, 'after-reboot', 'smpte');
    ctx.mark('reboot_ok');

    // The guest's program ends before the daemon goes: in one run, a daemon restart while modetest
    // still held the card open left the guest (Linux 6.1 xen-drm-front) hung after it reconnected.
    await guest.killall('modetest');
    const svc = ctx.service();
    const stop = await svc.stop();
    ctx.check('daemon stops cleanly while the guest is connected', stop.clean, stop.detail);
    await svc.start([...connectorArgs({ id0: DOM0_CONNECTOR }), ...ctx.env.daemonArgs]);
    ctx.mark('daemon_restarted');
    const s = await waitValues(
      ctx.dom0,
      { [`${backendPath(newId)}/state`]: ['4'], [`${frontendPath(newId)}/state`]: ['4'] },
      90,
    );
    ctx.check('after the daemon restart both sides are Connected again', true, `${s.toFixed(2)} s`);
    await drawAndSee(ctx, guest, newId, 'after-daemon-restart', 'plain', 'card*');
  },
};
