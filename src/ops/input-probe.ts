// The input side as the operations side sees it (InputProbe): the vkbd devices' XenBus state, the
// connected ones as the router has them, and dom0's evdev sources. Read-only and cheap.
import type { DeviceStatus } from '../backend/device.js';
import type { InputRouter } from '../input/router.js';
import type { InputProbe } from './probe.js';

export function inputProbe(
  vkbd: { status(): readonly DeviceStatus[] },
  router: InputRouter,
  sources?: { list(): { path: string; kind: string; grabbed: boolean }[] },
): InputProbe {
  return {
    devices: vkbd.status().map((d) => ({
      domid: d.domid,
      devId: d.devId,
      phase: d.phase,
      frontendState: d.frontendState,
      error: d.error,
    })),
    targets: router.list(),
    router: router.stats,
    sources: sources?.list() ?? [],
  };
}
