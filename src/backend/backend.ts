// The displif backend as a whole: discovery over XenStore, one state machine per device, and the
// counters a test or an operator needs to prove a guest left nothing behind.
import type { Logger } from '../util/log.js';
import type { XenPlatform } from '../xen/platform.js';
import type { XenStore } from '../xenstore/types.js';
import type { ChannelObserver } from './connector-channel.js';
import type { DeviceStatus } from './device.js';
import { DeviceDiscovery } from './discovery.js';
import type { OutputMap } from './output-map.js';
import { BudgetedPlatform, Dom0Budget, type BudgetReport } from './dom0-budget.js';
import { DEFAULT_QUOTAS, dom0Limits, type Quotas } from './quotas.js';

export interface BackendOptions {
  readonly xs: XenStore;
  readonly platform: XenPlatform;
  readonly outputs: OutputMap;
  readonly log: Logger;
  readonly quotas?: Quotas;
  /** Metrics hooks on the request path (optional). */
  readonly observer?: ChannelObserver;
}

export interface BackendResources {
  readonly devices: number;
  readonly connected: number;
  readonly buffers: number;
  readonly framebuffers: number;
  readonly bufferPages: number;
}

/** Framebuffer ids are unique for the daemon's lifetime (outputs key caches on them). */
let framebufferIds = 0;

export class DisplayBackend {
  private constructor(
    private readonly discovery: DeviceDiscovery,
    readonly basePath: string,
    private readonly dom0: Dom0Budget,
  ) {}

  static async start(opts: BackendOptions): Promise<DisplayBackend> {
    const basePath = `/local/domain/${opts.platform.ownDomid}/backend/vdispl`;
    const quotas = opts.quotas ?? DEFAULT_QUOTAS;
    // Every device reaches the platform through the budget: what all guests hold together is bounded.
    const dom0 = new Dom0Budget(() => dom0Limits(quotas));
    const discovery = new DeviceDiscovery(
      {
        xs: opts.xs,
        log: opts.log,
        platform: new BudgetedPlatform(opts.platform, dom0),
        outputs: opts.outputs,
        quotas,
        nextFramebufferId: () => ++framebufferIds,
        ...(opts.observer ? { observer: opts.observer } : {}),
      },
      basePath,
    );
    await discovery.start();
    opts.log.info({ path: basePath, platform: opts.platform.capabilities.summary }, 'watching for vdispl devices');
    return new DisplayBackend(discovery, basePath, dom0);
  }

  /** The dom0-wide budget: limits, use, each guest's holdings, refusals. */
  budget(): BudgetReport {
    return this.dom0.report();
  }

  status(): DeviceStatus[] {
    return this.discovery
      .list()
      .map((d) => d.status())
      .sort((a, b) => a.domid - b.domid || a.devId - b.devId);
  }

  resources(): BackendResources {
    let connected = 0;
    let buffers = 0;
    let framebuffers = 0;
    let bufferPages = 0;
    for (const d of this.discovery.list()) {
      const r = d.resources();
      if (r === undefined) continue;
      connected++;
      buffers += r.buffers;
      framebuffers += r.framebuffers;
      bufferPages += r.pages;
    }
    return { devices: this.discovery.list().length, connected, buffers, framebuffers, bufferPages };
  }

  /** Resolves when no device is in the middle of a transition. */
  settled(): Promise<void> {
    return this.discovery.settled();
  }

  /** Releases everything and tells every connected frontend we are gone; idempotent. */
  close(): Promise<void> {
    return this.discovery.close();
  }
}
