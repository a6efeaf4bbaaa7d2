// a4. Flip rate on vkms: the guest's `modetest -v` through vdispld against dom0's own `modetest -v`
// on the same vkms in the same run (the ceiling this emulated machine allows), on the zero-copy path
// (be-alloc=1, a1) and on the copy path (the same with --zero-copy off, a3). Reported: both rates,
// the ratio, and the daemon's CPU time per flip shown on each path.
import type { Ctx, Scenario } from '../lib/scenario.js';
import { sleep } from '../lib/scenario.js';
import { parseFlipRates } from '../lib/modetest.js';
import { VKMS_CONNECTOR, VKMS_MODE, vkmsPipe } from '../lib/vkms.js';
import { daemonAccount } from './arm64-steps.js';
import { CPU_PROBE, parseCpu, steadyMean } from './s3-flip.js';
import { connectorArgs, createGuest, startModetest, waitConnected, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', ...VKMS_MODE }];
const SECONDS = 20;
/** Jiffies per second of /proc/<pid>/stat (CONFIG_HZ-independent USER_HZ). */
const USER_HZ = 100;

async function guestFlips(
  ctx: Ctx,
  label: string,
  zeroCopy: 'on' | 'off',
  name: string,
): Promise<{ hz: number; msPerFlip: number }> {
  const daemon = ctx.service();
  await daemon.start([
    ...connectorArgs({ [`${name}/id0`]: VKMS_CONNECTOR }),
    '--zero-copy',
    zeroCopy,
    ...ctx.env.daemonArgs,
  ]);
  ctx.daemonStarted = true;
  const { guest, domid } = await createGuest(ctx, CONNECTORS, true, name);
  const conn = await waitConnected(ctx, guest, domid, 1);
  const c = conn.connectors[0];
  const before = { cpu: parseCpu(await ctx.dom0.run(CPU_PROBE)), acc: await daemonAccount(ctx) };
  await startModetest(
    guest,
    'flip',
    `-v -s ${c?.id ?? '?'}${conn.crtcs[0] !== undefined ? `@${conn.crtcs[0]}` : ''}:${VKMS_MODE.width}x${VKMS_MODE.height}`,
  );
  await sleep(SECONDS * 1000);
  const after = { cpu: parseCpu(await ctx.dom0.run(CPU_PROBE)), acc: await daemonAccount(ctx) };
  await guest.killall('modetest');
  const rates = parseFlipRates(await guest.log('flip'));
  const hz = steadyMean(rates);
  const flips = after.acc.flipsShown - before.acc.flipsShown;
  const msPerFlip = flips > 0 ? ((after.cpu.proc - before.cpu.proc) * 1000) / USER_HZ / flips : NaN;
  ctx.figure(`${label}: guest flip rate reports (Hz)`, rates.join(' '));
  ctx.figure(`${label}: guest steady flip rate (Hz)`, Number(hz.toFixed(2)));
  ctx.figure(`${label}: daemon CPU per flip shown (ms; ${flips} flips)`, Number(msPerFlip.toFixed(2)));
  const copied = (after.acc.copiedBytes ?? NaN) - (before.acc.copiedBytes ?? NaN);
  ctx.figure(`${label}: copied bytes during the window`, copied);
  ctx.check(`${label}: the guest's modetest reported flip rates`, rates.length > 0);
  ctx.check(`${label}: the daemon showed flips during the window`, flips > 0, `${flips} flips`);
  const dropped = after.acc.flipsDropped - before.acc.flipsDropped;
  ctx.figure(`${label}: flips dropped (a newer one took their place)`, dropped);
  // the rate and CPU figures belong to the path named: nothing copied on the zero-copy path, one
  // whole frame per flip on the copy path: at least every flip shown, at most every flip shown or
  // dropped (a dropped one may have been copied before a newer one replaced it); a frame is copied
  // before its flip completes, so either end of the window may hold one copied but not yet counted;
  // and modetest's own SET_CONFIG, inside the window, shows (copies) its first frame without a flip
  const frame = VKMS_MODE.width * VKMS_MODE.height * 4;
  const frames = copied / frame;
  ctx.check(
    zeroCopy === 'on' ? `${label}: nothing copied during the window` : `${label}: one whole frame copied per flip`,
    zeroCopy === 'on' ? copied === 0 : Number.isInteger(frames) && frames >= flips - 1 && frames <= flips + dropped + 2,
    `${copied} bytes = ${frames} frames; ${flips} flips shown, ${dropped} dropped`,
  );
  await ctx.dom0.run(`xl destroy ${name}`, 60);
  const stop = await daemon.stop();
  ctx.check(`${label}: the daemon stops cleanly`, stop.clean, stop.detail);
  ctx.daemonStarted = false;
  return { hz, msPerFlip };
}

export const a4FlipRate: Scenario = {
  id: 'a4-flip-rate',
  title: "flip rate: guest modetest -v through vdispld vs dom0's own on vkms; zero-copy and copy; CPU per flip",
  async run(ctx) {
    const pipe = await vkmsPipe(ctx.dom0);
    const base = await ctx.dom0.run(
      `(sleep ${SECONDS} | modetest -M vkms -v -s ${pipe.connector}@${pipe.crtc}:${VKMS_MODE.width}x${VKMS_MODE.height} > /tmp/base.log 2>&1 &); ` +
        `sleep ${SECONDS + 2}; killall modetest; cat /tmp/base.log`,
      SECONDS + 60,
    );
    const baseRates = parseFlipRates(base);
    const baseHz = steadyMean(baseRates);
    ctx.figure("dom0's own modetest -v on vkms (Hz)", Number(baseHz.toFixed(2)));
    ctx.check("dom0's own modetest -v reported flip rates", baseRates.length > 0, baseRates.join(' '));
    const zc = await guestFlips(ctx, 'zero-copy (be-alloc=1)', 'on', 'guest-zc');
    const cp = await guestFlips(ctx, 'copy (--zero-copy off)', 'off', 'guest-copy');
    ctx.figure('zero-copy guest rate / dom0 rate', Number((zc.hz / baseHz).toFixed(3)));
    ctx.figure('copy guest rate / dom0 rate', Number((cp.hz / baseHz).toFixed(3)));
    ctx.figure('daemon CPU per flip, copy / zero-copy', Number((cp.msPerFlip / zc.msPerFlip).toFixed(2)));
  },
};
