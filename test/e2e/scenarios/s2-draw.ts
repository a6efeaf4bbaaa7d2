// 2. Draw: modetest in the guest draws the SMPTE bars on its 800x600 connector; vdispld copies them to
// dom0's bochs display (id0 -> Virtual-1), where QEMU's screendump must show them pixel for pixel.
import type { Scenario } from '../lib/scenario.js';
import {
  checkCopyPathLogged,
  modetestErrors,
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

export const draw: Scenario = {
  id: '2-draw',
  title: "draw: guest modetest SMPTE bars appear on dom0's screen (copy path on a PV dom0)",
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    ctx.mark('modetest_started');
    await waitForSmpte(ctx, 'guest-smpte', 800, 600, 45);
    ctx.mark('picture_seen');
    const log = await guest.log('mt');
    const errors = modetestErrors(log);
    ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));
    checkCopyPathLogged(ctx);
  },
};
