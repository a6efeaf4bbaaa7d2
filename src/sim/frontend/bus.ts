// The guest's xenbus frontend bus for vdispl: probes a device when the toolstack creates its
// node under device/vdispl and removes it (xen_drv_remove) when the node goes.
import { XenStoreError, type XenStore, type XsWatch } from '../../xenstore/types.js';
import type { DomainKernel } from '../domain-kernel.js';
import { FrontDevice, type DeviceHooks } from './device.js';

export class FrontendBus {
  readonly devices = new Map<number, FrontDevice>();
  private watch: XsWatch | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly xs: XenStore,
    private readonly kernel: DomainKernel,
    private readonly domid: number,
    private readonly hooks: DeviceHooks,
  ) {}

  get root(): string {
    return `/local/domain/${this.domid}/device/vdispl`;
  }

  async start(): Promise<void> {
    this.watch = await this.xs.watch(this.root, () => {
      this.queue = this.queue
        .then(() => this.rescan())
        .catch((err: unknown) => {
          this.hooks.report({ kind: 'error', message: `bus: ${err instanceof Error ? err.message : String(err)}` });
        });
    });
  }

  private async rescan(): Promise<void> {
    if (this.closed) return;
    let names: string[];
    try {
      names = await this.xs.directory(this.root);
    } catch (err) {
      if (!(err instanceof XenStoreError) || (err.xsError !== 'ENOENT' && err.xsError !== 'EACCES')) throw err;
      names = [];
    }
    const present = new Set(names.filter((n) => /^\d+$/.test(n)).map(Number));
    for (const [id, dev] of this.devices) {
      if (present.has(id)) continue;
      this.devices.delete(id);
      dev.remove().catch((err: unknown) => {
        this.hooks.report({
          kind: 'error',
          message: `removing device ${id}: ${err instanceof Error ? err.message : String(err)}`,
        });
      });
    }
    for (const id of present) {
      if (this.devices.has(id)) continue;
      const dev = new FrontDevice(this.xs, this.kernel, this.domid, id, `${this.root}/${id}`, this.hooks);
      this.devices.set(id, dev);
      if (!(await dev.probe())) this.devices.delete(id);
    }
  }

  /** Unloads one device's driver (rmmod), leaving its XenStore node in place. */
  async removeDevice(devid: number): Promise<boolean> {
    const dev = this.devices.get(devid);
    if (!dev) return false;
    await dev.remove();
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watch?.close().catch(() => undefined);
    for (const d of this.devices.values()) await d.close();
    this.devices.clear();
  }
}
