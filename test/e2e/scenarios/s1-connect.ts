// 1. Connect: the guest boots with one 800x600 connector and reaches Connected on both sides, and its
// kernel gives it /dev/dri/card0 driven by xen-drm-front.
import type { Scenario } from '../lib/scenario.js';
import {
  checkToolstackNodes,
  createGuest,
  DOM0_CONNECTOR,
  startBackend,
  waitConnected,
  type ConnectorSpec,
} from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];

export const connect: Scenario = {
  id: '1-connect',
  title: 'connect: backend=0,be-alloc=0,connectors=id0:800x600 reaches Connected; guest has card0 (xendrm-du)',
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS);
    await checkToolstackNodes(ctx, domid, CONNECTORS);
    await waitConnected(ctx, guest, domid, CONNECTORS.length);
  },
};
