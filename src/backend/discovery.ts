// Finds vdispl devices: one watch on /local/domain/<own>/backend/vdispl. A device is the directory
// <fe-domid>/<dev-id> under it; it appears when the toolstack writes it and disappears when its
// nodes go. Watch events are routed to the device they concern in O(1); a device decides for itself
// whether it still exists. The whole tree is rescanned when the watch fires on the base path (at
// registration and after a xenstored reconnect), so a daemon started among live devices finds them.
import type { DevId, DomId } from '../util/ids.js';
import { devId as toDevId, parseDomId } from '../util/ids.js';
import type { XsWatch } from '../xenstore/types.js';
import { Device, type DeviceEnv } from './device.js';

const DEVID = /^(0|[1-9][0-9]{0,8})$/;

function parseKey(fe: string | undefined, dev: string | undefined): { fe: DomId; dev: DevId } | undefined {
  if (fe === undefined || dev === undefined || !DEVID.test(dev)) return undefined;
  const d = parseDomId(fe);
  return d === undefined ? undefined : { fe: d, dev: toDevId(Number(dev)) };
}

export class DeviceDiscovery {
  private readonly devices = new Map<string, Device>();
  private watch: XsWatch | undefined;
  private closed = false;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;

  constructor(
    private readonly env: DeviceEnv,
    readonly basePath: string,
  ) {}

  async start(): Promise<void> {
    this.watch = await this.env.xs.watch(this.basePath, (p) => this.onEvent(p));
  }

  list(): Device[] {
    return [...this.devices.values()];
  }

  /** Resolves when no scan or device evaluation is running. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.scanning) {
        await this.scanning;
        continue;
      }
      const busy = this.list();
      await Promise.all(busy.map((d) => d.settled()));
      if (!this.scanning) return;
    }
  }

  /** Stops watching and shuts every device down (releasing all it holds). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watch?.close().catch(() => {});
    if (this.scanning) await this.scanning;
    await Promise.all(this.list().map((d) => d.shutdown()));
    this.devices.clear();
  }

  private onEvent(path: string): void {
    if (this.closed) return;
    if (path === this.basePath || !path.startsWith(`${this.basePath}/`)) {
      this.rescan();
      return;
    }
    const [fe, dev] = path.slice(this.basePath.length + 1).split('/');
    if (dev === undefined) {
      // The domain's directory itself changed (created or removed as a whole).
      this.rescan();
      return;
    }
    const key = parseKey(fe, dev);
    if (key) this.ensure(key.fe, key.dev).notify();
  }

  private ensure(fe: DomId, dev: DevId): Device {
    const k = `${fe}/${dev}`;
    let d = this.devices.get(k);
    if (!d) {
      const made = new Device(this.env, fe, dev, `${this.basePath}/${fe}/${dev}`);
      made.events.once('gone', () => {
        if (this.devices.get(k) === made) this.devices.delete(k);
      });
      d = made;
      this.devices.set(k, d);
    }
    return d;
  }

  private rescan(): void {
    if (this.scanning) {
      this.rescanAgain = true;
      return;
    }
    this.scanning = this.scan()
      .catch((err: unknown) => this.env.log.warn(`cannot list ${this.basePath}: ${(err as Error).message}`))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescanAgain && !this.closed) {
          this.rescanAgain = false;
          this.rescan();
        }
      });
  }

  private async scan(): Promise<void> {
    const xs = this.env.xs;
    const list = async (p: string): Promise<string[]> =>
      (await xs.tryRead(p)) === undefined ? [] : xs.directory(p).catch(() => []);
    for (const fe of await list(this.basePath)) {
      for (const dev of await list(`${this.basePath}/${fe}`)) {
        const key = parseKey(fe, dev);
        if (key && !this.closed) this.ensure(key.fe, key.dev);
      }
    }
    // Known devices re-check themselves too: some may have gone while nobody listened.
    for (const d of this.list()) d.notify();
  }
}
