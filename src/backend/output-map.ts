// Which output shows which guest connector. A connector's `unique-id` is looked up in the
// configured map (`--connector uniqueId=OUTPUT`), then as an output name itself (so a KMS
// connector name such as HDMI-A-1 works as a unique-id), and otherwise gets a headless output of
// its own at its resolution. An output serves one connector at a time.
import type { Resolution } from '../displif/xenstore-fields.js';
import type { HeadlessBackend } from '../drm/headless/headless-backend.js';
import type { Output, OutputBackend } from '../drm/output.js';
import type { DomId } from '../util/ids.js';

export interface OutputMapOptions {
  /** The outputs of the real screen (KMS), or the headless backend when there is none. */
  readonly primary: OutputBackend;
  /** Where connectors without a screen get an output; may be the same object as `primary`. */
  readonly headless: HeadlessBackend;
  /** unique-id → output name. */
  readonly connectorMap?: ReadonlyMap<string, string>;
  /** 'headless' (default): unmapped connectors get a headless output; 'refuse': the device fails. */
  readonly unmapped?: 'headless' | 'refuse';
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

  constructor(private readonly opts: OutputMapOptions) {}

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
    if (this.opts.headless.output(dname)) return { ok: false, error: `${who}: headless output ${dname} is already in use` };
    const out = this.opts.headless.createOutput({ name: dname, width: c.resolution.width, height: c.resolution.height });
    return { ok: true, claim: this.take(out, this.opts.headless, true, who) };
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
        if (dedicated) this.opts.headless.removeOutput(output.name);
      },
    };
  }

  private find(name: string): { output: Output; backend: OutputBackend } | undefined {
    const p = this.opts.primary.output(name);
    if (p) return { output: p, backend: this.opts.primary };
    // Dedicated outputs live in the headless backend too, but are never a match by name.
    const h = this.opts.headless !== this.opts.primary ? this.opts.headless.output(name) : undefined;
    if (h) return { output: h, backend: this.opts.headless };
    return undefined;
  }

  private names(): string[] {
    const all = [...this.opts.primary.outputs(), ...(this.opts.headless !== this.opts.primary ? this.opts.headless.outputs() : [])];
    return all.map((o) => o.name).filter((n) => !this.isDedicated(n));
  }

  private isDedicated(name: string): boolean {
    return /^dom\d+\.\d+\./.test(name);
  }
}
