// The guest's xenbus frontend bus for vkbd: probes a device when the toolstack creates its node
// under device/vkbd and drops it when the node goes.
import { XenStoreError, type XenStore, type XsWatch } from '../../xenstore/types.js';
import type { DomainKernel } from '../domain-kernel.js';
import { FrontKbd } from './kbd-device.js';
import type { FrontendReport } from './protocol.js';

export class KbdBus {
  readonly devices = new Map<number, FrontKbd>();
  private watch: XsWatch | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly xs: XenStore,
    private readonly kernel: DomainKernel,
    private readonly domid: number,
    private readonly report: (r: FrontendReport) => void,
  ) {}

  get root(): string {
    return `/local/domain/${this.domid}/device/vkbd`;
  }

  async start(): Promise<void> {
    this.watch = await this.xs.watch(this.root, () => {
      this.queue = this.queue
        .then(() => this.rescan())
        .catch((err: unknown) => {
          this.report({ kind: 'error', message: `vkbd bus: ${err instanceof Error ? err.message : String(err)}` });
        });
    });
  }

  /** The pointer a display connector with `uniqueId` should draw, from the vkbd with the same unique-id. */
  pointerFor(uniqueId: string): { x: number; y: number } | undefined {
    for (const d of this.devices.values())
      if (d.uniqueId === uniqueId && d.abs && d.moved) return { x: d.input.x, y: d.input.y };
    return undefined;
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
      await dev.close();
    }
    for (const id of present) {
      if (this.devices.has(id)) continue;
      const dev = new FrontKbd(this.xs, this.kernel, id, `${this.root}/${id}`, this.report);
      this.devices.set(id, dev);
      if (!(await dev.probe())) this.devices.delete(id);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watch?.close().catch(() => undefined);
    for (const d of this.devices.values()) await d.close();
    this.devices.clear();
  }
}
