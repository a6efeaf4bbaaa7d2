// a5. Teardown with zero-copy buffers in flight: `xl destroy` of a guest while its modetest -v flips,
// once with frontend buffers (exported with EXP_FROM_REFS and imported by vkms) and once with
// backend buffers (vkms dumb buffers granted with IMP_TO_REFS). Each time: the backend Closed within
// 1 s of the daemon's first sight, every grant mapping, dma-buf, granted buffer and imported GEM
// handle released (vdispld status), no zombie domain; then a new guest draws exactly.
import type { Ctx, Scenario } from '../lib/scenario.js';
import { sleep } from '../lib/scenario.js';
import { VKMS_CONNECTOR, VKMS_MODE, waitForCrc } from '../lib/vkms.js';
import { daemonAccount, referenceSmpte, type DaemonAccount } from './arm64-steps.js';
import { checkTeardown, timedXl } from './s6-teardown.js';
import { createGuest, setArgs, startBackend, startModetest, waitConnected, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', ...VKMS_MODE }];

async function destroyWhileFlipping(ctx: Ctx, name: string, beAlloc: boolean): Promise<void> {
  const what = `xl destroy of a flipping guest with ${beAlloc ? 'backend (IMP_TO_REFS)' : 'frontend (EXP_FROM_REFS)'} buffers`;
  const { guest, domid } = await createGuest(ctx, CONNECTORS, beAlloc, name);
  const conn = await waitConnected(ctx, guest, domid, 1);
  await startModetest(guest, 'flip', `-v ${setArgs(conn, CONNECTORS)}`);
  // in flight: both of modetest -v's buffers, as exports with their imports (be-alloc=0) or as
  // granted dumb buffers (be-alloc=1), and flips being shown; waited for, as the guest's start-up
  // under emulation takes from seconds to a minute
  const inFlightNow = (acc: DaemonAccount): boolean =>
    acc.flipsShown > 1 &&
    (beAlloc
      ? (acc.resources['grantedBuffers'] ?? 0) >= 2
      : (acc.resources['exportedDmaBufs'] ?? 0) >= 2 && (acc.resources['dmaBufImports'] ?? 0) >= 2);
  let acc = await daemonAccount(ctx);
  for (const t0 = performance.now(); !inFlightNow(acc) && performance.now() - t0 < 120_000;) {
    await sleep(2000);
    acc = await daemonAccount(ctx);
  }
  const res = acc.resources;
  const inFlight = inFlightNow(acc);
  ctx.figure(`${what}: path on screen`, acc.connectorPaths.join(','));
  ctx.figure(`${what}: flips shown before the destroy`, acc.flipsShown);
  ctx.check(`${what}: buffers in flight before the destroy`, inFlight, JSON.stringify(res));
  const out = await ctx.dom0.run(timedXl(`xl destroy ${name}`), 60);
  await checkTeardown(ctx, what, domid, out, ['Domain-0']);
}

export const a5Teardown: Scenario = {
  id: 'a5-teardown',
  title:
    'teardown with exported and imported buffers in flight: Closed within 1 s, everything released, no zombie, a new guest draws',
  async run(ctx) {
    const ref = await referenceSmpte(ctx);
    // One guest after the other on the screen: each is mapped by its domain name.
    await startBackend(
      ctx,
      Object.fromEntries(['guest-fe', 'guest-be', 'guest-new'].map((g) => [`${g}/id0`, VKMS_CONNECTOR])),
    );
    await destroyWhileFlipping(ctx, 'guest-fe', false);
    await destroyWhileFlipping(ctx, 'guest-be', true);
    const { guest, domid } = await createGuest(ctx, CONNECTORS, true, 'guest-new');
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    const shown = await waitForCrc(ctx.dom0, ref.crc, 120);
    ctx.check(
      "after both teardowns a new guest's SMPTE bars are shown exactly",
      shown.ok,
      `CRC ${shown.last}, reference ${ref.crc}`,
    );
    await guest.killall('modetest');
  },
};
