// 3. Flip: `modetest -v` page-flips with vsync for some seconds; the rate it reports must reach the
// floor (55 Hz unless the run was told otherwise, loudly). Under emulation the rate, the daemon's
// share of dom0's CPU and the rate dom0's own modetest reaches on the bare display are reported either
// way, so a miss says where the time went.
import { parseFlipRates } from '../lib/modetest.js';
import { sleep, type Scenario } from '../lib/scenario.js';
import { createGuest, DOM0_CONNECTOR, setArgs, startBackend, startModetest, waitConnected, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];
const SECONDS = 20;

/** utime+stime of a process and the whole machine's busy+idle jiffies, read in dom0. */
const CPU_PROBE = 'pid=$(cat /run/e2e/daemon.pid); echo "$(cut -d" " -f14,15 /proc/$pid/stat) $(head -1 /proc/stat | cut -d" " -f3-)"';

function parseCpu(out: string): { proc: number; total: number } {
  const n = out.trim().split(/\s+/).map(Number);
  return { proc: n[0]! + n[1]!, total: n.slice(2).reduce((a, b) => a + b, 0) };
}

export const flip: Scenario = {
  id: '3-flip',
  title: 'flip: modetest -v page flipping with vsync; rate >= floor; daemon CPU share reported',
  async run(ctx) {
    // The ceiling this emulated machine allows: modetest -v straight on dom0's bochs-drm, no guest, no
    // daemon (it must run before the daemon takes DRM master).
    const base = await ctx.dom0.exec(
      `id=$(modetest -M bochs-drm -c | awk '/\tconnected\t/{print $1; exit}'); ` +
        `(sleep ${SECONDS} | modetest -M bochs-drm -v -s $id:800x600 > /tmp/base.log 2>&1 &); sleep ${SECONDS + 2}; pkill -x modetest; cat /tmp/base.log`,
      SECONDS + 30,
    );
    const baseRates = parseFlipRates(base.out);
    const baseSteady = baseRates.length > 1 ? baseRates.slice(1) : baseRates;
    const baseMean = baseSteady.length ? baseSteady.reduce((a, b) => a + b, 0) / baseSteady.length : 0;
    ctx.figure('dom0 modetest -v on bochs-drm alone (Hz)', Number(baseMean.toFixed(2)));
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS);
    const conn = await waitConnected(ctx, guest, domid, 1);
    const before = parseCpu(await ctx.dom0.run(CPU_PROBE));
    await startModetest(guest, 'flip', `-v ${setArgs(conn, CONNECTORS)}`);
    await sleep(SECONDS * 1000);
    const after = parseCpu(await ctx.dom0.run(CPU_PROBE));
    await guest.killall('modetest');
    const rates = parseFlipRates(await guest.log('flip'));
    // the first report includes modeset and first-frame latency
    const steady = rates.length > 1 ? rates.slice(1) : rates;
    const mean = steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : 0;
    const share = after.total > before.total ? (after.proc - before.proc) / (after.total - before.total) : NaN;
    ctx.figure('flip rate reports (Hz)', rates.join(' '));
    ctx.figure('steady flip rate (Hz)', Number(mean.toFixed(2)));
    ctx.figure('daemon share of dom0 CPU during flipping (%)', Number((share * 100).toFixed(1)));
    ctx.check('modetest reported flip rates', rates.length > 0);
    ctx.check(`flip rate >= ${ctx.env.flipMinHz} Hz`, mean >= ctx.env.flipMinHz,
      `${mean.toFixed(2)} Hz steady; daemon used ${(share * 100).toFixed(1)} % of dom0 CPU; dom0's own modetest reached ${baseMean.toFixed(2)} Hz on this machine`);
  },
};
