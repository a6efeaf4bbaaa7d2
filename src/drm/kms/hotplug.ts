// Noticing a monitor plugged in or out. The kernel learns it from the connector's hot-plug
// interrupt (or from its own poll of connectors that have none) and announces it as a uevent, which
// Node cannot receive without a netlink socket. It also keeps each connector's status in sysfs
// (/sys/class/drm/card0-HDMI-A-1/status), and reading that file returns the status the kernel
// already knows, without probing the connector, and its mode list beside it (`modes`, also read
// without a probe), so another monitor plugged in between two looks is seen by its modes even where
// the status stayed "connected". So the watch reads those files, asynchronously (off
// the event loop), every interval; only a change triggers the costly part, re-reading the card's
// connectors (a probe that may read EDID), which the KMS backend does in rescan().
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Connector name → its status ("connected" | "disconnected" | "unknown") and modes, as sysfs says. */
export type ConnectorStatuses = ReadonlyMap<string, string>;

/** Every connector of `card` (a /dev/dri path) in sysfs; empty where there is no sysfs. */
export async function sysfsStatuses(card: string, dir = '/sys/class/drm'): Promise<ConnectorStatuses> {
  const prefix = `${basename(card)}-`;
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(prefix));
  } catch {
    return out; // no sysfs (a container): no hot-plug seen, the outputs stay as found at start
  }
  for (const n of names) {
    try {
      const status = (await readFile(join(dir, n, 'status'), 'utf8')).trim();
      // Older kernels and some test trees have no modes file: the status alone then.
      const modes = await readFile(join(dir, n, 'modes'), 'utf8').catch(() => '');
      out.set(n.slice(prefix.length), modes ? `${status}\n${modes.trim()}` : status);
    } catch {
      // A connector going away between the listing and the read (MST): it is not there.
    }
  }
  return out;
}

function same(a: ConnectorStatuses, b: ConnectorStatuses): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export class HotplugWatch {
  private last: ConnectorStatuses | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly read: () => Promise<ConnectorStatuses>,
    private readonly onChange: () => void,
    private readonly intervalMs: number,
  ) {}

  /** Takes the first reading (the baseline: no change reported for it), then one per interval. */
  start(): void {
    void this.tick();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One reading; reports a change from the previous one. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = await this.read();
    if (this.closed) return;
    const before = this.last;
    this.last = now;
    if (before !== undefined && !same(before, now)) this.onChange();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }
}
