// The vkbd backend: the same discovery and XenBus state machine as the displays, on libxl's
// backend directory for `vkb = [ 'backend-type=linux,...' ]` (kind vinput), with the vkbd protocol.
// Connected devices are targets in the input router; the router decides who gets input.
import { BACKEND_KIND } from '../kbdif/constants.js';
import type { InputRouter } from '../input/router.js';
import type { Logger } from '../util/log.js';
import type { XenPlatform } from '../xen/platform.js';
import type { XenStore } from '../xenstore/types.js';
import type { DeviceStatus } from './device.js';
import { DeviceDiscovery } from './discovery.js';
import type { OutputMap } from './output-map.js';
import { DEFAULT_QUOTAS } from './quotas.js';
import { vkbdProtocol } from './vkbd-protocol.js';

export interface VkbdBackendOptions {
  readonly xs: XenStore;
  readonly platform: XenPlatform;
  readonly router: InputRouter;
  readonly log: Logger;
  /** The display side's map: the shared device machinery carries it, vkbd devices claim no output. */
  readonly outputs: OutputMap;
}

export class VkbdBackend {
  private constructor(
    private readonly discovery: DeviceDiscovery,
    readonly basePath: string,
  ) {}

  static async start(opts: VkbdBackendOptions): Promise<VkbdBackend> {
    const basePath = `/local/domain/${opts.platform.ownDomid}/backend/${BACKEND_KIND}`;
    const log = opts.log.child({ device: 'vkbd' });
    const discovery = new DeviceDiscovery(
      {
        xs: opts.xs,
        log,
        platform: opts.platform,
        outputs: opts.outputs,
        quotas: DEFAULT_QUOTAS,
        nextFramebufferId: () => 0,
        protocol: vkbdProtocol({ xs: opts.xs, platform: opts.platform, targets: opts.router, log }),
      },
      basePath,
    );
    await discovery.start();
    log.info({ path: basePath }, 'watching for vkbd devices');
    return new VkbdBackend(discovery, basePath);
  }

  status(): DeviceStatus[] {
    return this.discovery
      .list()
      .map((d) => d.status())
      .sort((a, b) => a.domid - b.domid || a.devId - b.devId);
  }

  settled(): Promise<void> {
    return this.discovery.settled();
  }

  close(): Promise<void> {
    return this.discovery.close();
  }
}
