// Which output shows which guest connector. A connector's `unique-id` is looked up in the
// configured map (`--connector uniqueId=OUTPUT`), then as an output name itself (so a KMS
// connector name such as HDMI-A-1 works as a unique-id), and otherwise gets a headless output of
// its own at its resolution. An output serves one connector at a time. Outputs are found through
// the output seam only (src/drm/output.ts): any backend in `backends` serves by name, whatever
// implements it, and one that makes outputs on demand gives unmapped connectors theirs. A claimed
// output whose monitor is unplugged stays claimed (parked: the guest runs, its flips are dropped)
// and shows the guest again when the monitor comes back; the backend's events say when.
import type { Resolution } from '../displif/xenstore-fields.js';
import type { OnDemandBackend, Output, OutputBackend } from '../drm/output.js';
import type { DomId } from '../util/ids.js';

export interface OutputMapOptions {
  /**
   * The backends whose outputs a connector may be mapped to by name, searched in order: the real
   * screen (KMS) first, then named headless outputs. A new output backend is one more entry.
   */
  readonly backends: readonly OutputBackend[];
  /** Where connectors without an output of their own get one, made for them; may also be in `backends`. */
  readonly onDemand: OnDemandBackend;
  /** unique-id → output name. */
  readonly connectorMap?: ReadonlyMap<string, string>;
  /** 'headless' (default): unmapped connectors get a headless output; 'refuse': the device fails. */
  readonly unmapped?: 'headless' | 'refuse';
  /** Where a claimed output's coming and going is said. */
  readonly warn?: (message: string) => void;
}

export interface OutputClaim {
  readonly output: Output;
  readonly backend: OutputBackend;
  /** The output was made for this connector and goes away with the claim. */
  readonly dedicated: boolean;
  /** Idempotent: gives the output back (and removes a dedicated one). */
  release(): void;
}

export type ClaimResult = { readonly ok: true; readonly claim: OutputClaim } | { readonly ok: false; readonly error: string };

export interface ConnectorRef {
  readonly domid: DomId;
  readonly devId: number;
  readonly index: number;
  readonly uniqueId: string;
  readonly resolution: Resolution;
}

/** Name of the headless output made for an unmapped connector. */
export function dedicatedOutputName(c: Pick<ConnectorRef, 'domid' | 'devId' | 'uniqueId'>): string {
  return `dom${c.domid}.${c.devId}.${c.uniqueId}`;
}

export function parseConnectorMapping(s: string): [string, string] {
  const m = /^([\x21-\x7e]{1,64})=([\x21-\x7e]{1,64})$/.exec(s);
  if (!m || m[1]!.includes('=') || m[1]!.includes(',')) {
    throw new Error(`connector mapping ${JSON.stringify(s)}: expected UNIQUE_ID=OUTPUT, e.g. id0=HDMI-A-1`);
  }
  return [m[1]!, m[2]!];
}

export class OutputMap {
  private readonly inUse = new Map<string, string>();

  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly opts: OutputMapOptions) {
    for (const b of new Set([...opts.backends, opts.onDemand])) {
      const added = (o: Output): void => this.hotplug(o, true);
      const removed = (o: Output): void => this.hotplug(o, false);
      b.events.on('output-added', added);
      b.events.on('output-removed', removed);
      this.unsubscribe.push(() => {
        b.events.off('output-added', added);
        b.events.off('output-removed', removed);
      });
    }
  }

  /** Stops listening to the backends (they may outlive the map). */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  claim(c: ConnectorRef): ClaimResult {
    const who = `dom${c.domid} device ${c.devId} connector ${c.index} (unique-id ${JSON.stringify(c.uniqueId)})`;
    const mapped = this.opts.connectorMap?.get(c.uniqueId);
    const name = mapped ?? c.uniqueId;
    const found = this.find(name);
    if (found) {
      const holder = this.inUse.get(found.output.name);
      if (holder !== undefined) return { ok: false, error: `${who}: output ${found.output.name} is already used by ${holder}` };
      return { ok: true, claim: this.take(found.output, found.backend, false, who) };
    }
    if (mapped !== undefined) {
      return { ok: false, error: `${who}: mapped to output ${JSON.stringify(mapped)}, which does not exist (outputs: ${this.names().join(', ') || 'none'})` };
    }
    if ((this.opts.unmapped ?? 'headless') === 'refuse') {
      return { ok: false, error: `${who}: no output of that name and no --connector mapping for it (outputs: ${this.names().join(', ') || 'none'})` };
    }
    const dname = dedicatedOutputName(c);
    const onDemand = this.opts.onDemand;
    if (onDemand.output(dname)) return { ok: false, error: `${who}: headless output ${dname} is already in use` };
    const out = onDemand.createOutput({ name: dname, width: c.resolution.width, height: c.resolution.height });
    return { ok: true, claim: this.take(out, onDemand, true, who) };
  }

  /** Output name → who uses it, for status. */
  claims(): ReadonlyMap<string, string> {
    return this.inUse;
  }

  private take(output: Output, backend: OutputBackend, dedicated: boolean, who: string): OutputClaim {
    this.inUse.set(output.name, who);
    let held = true;
    return {
      output,
      backend,
      dedicated,
      release: () => {
        if (!held) return;
        held = false;
        this.inUse.delete(output.name);
        if (dedicated) this.opts.onDemand.removeOutput(output.name);
      },
    };
  }

  /** A claimed output came back (a monitor plugged in again) or went (unplugged): said, nothing else to do. */
  private hotplug(o: Output, added: boolean): void {
    const holder = this.inUse.get(o.name);
    if (holder === undefined || this.isDedicated(o.name)) return;
    this.opts.warn?.(
      added
        ? `output ${o.name} is back: showing ${holder} again`
        : `output ${o.name} is gone (unplugged): ${holder} keeps running, shown nowhere until it comes back`,
    );
  }

  private find(name: string): { output: Output; backend: OutputBackend } | undefined {
    // Dedicated outputs live in the on-demand backend too, but are never a match by name.
    if (this.isDedicated(name)) return undefined;
    for (const backend of this.opts.backends) {
      const output = backend.output(name);
      if (output) return { output, backend };
    }
    return undefined;
  }

  private names(): string[] {
    return this.opts.backends.flatMap((b) => b.outputs().map((o) => o.name)).filter((n) => !this.isDedicated(n));
  }

  private isDedicated(name: string): boolean {
    return /^dom\d+\.\d+\./.test(name);
  }
}
