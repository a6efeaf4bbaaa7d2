// 7. be-alloc=1: the backend allocates the display buffers (gntalloc here) and grants them to the
// guest; the guest draws into them and the picture must reach dom0's screen as with guest buffers.
import type { Scenario } from '../lib/scenario.js';
import { checkToolstackNodes, modetestErrors, createGuest, DOM0_CONNECTOR, setArgs, startBackend, startModetest, waitConnected, waitForSmpte, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];

export const beAlloc: Scenario = {
  id: '7-be-alloc',
  title: 'be-alloc=1: connect and draw with backend-allocated buffers',
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS, true);
    await checkToolstackNodes(ctx, domid, CONNECTORS, true);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    await waitForSmpte(ctx, 'be-alloc-smpte', 800, 600, 45);
    const log = await guest.log('mt');
    const errors = modetestErrors(log);
    ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));
  },
};
