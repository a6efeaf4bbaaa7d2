// Which output shows which guest connector. Only dom0's configuration decides: a mapping
// `GUEST/UNIQUE_ID=OUTPUT` names the guest by what the guest cannot write (its domid, or the name
// or UUID the toolstack recorded in dom0-owned nodes, see guest-identity.ts), and the unique-id,
// which the guest can rewrite at will, only selects among that guest's own mappings. A connector
// with no mapping, or whose mapped output another connector holds, gets an output of its own made
// on demand at its resolution (or the device is refused, by the `unmapped` policy). An output
// serves one connector at a time: first come, first served; the later one is told once in the log.
// Outputs are found through the output seam only (src/drm/output.ts): any backend in `backends`
// serves by name, whatever implements it. A claimed output whose monitor is unplugged stays
// claimed (parked: the guest runs, its flips are dropped) and shows the guest again when the
// monitor comes back; the backend's events say when. A mapping to `wayland` (or `wayland:NAME`,
// full screen on that compositor output) gives the connector a window of its own on the dom0
// compositor (`windows`). An output with a layout (`layouts.<output>`, see layouts.ts) shows the
// connectors it names together, each in its rectangle (drm/compose): a connector a layout names is
// claimed there whatever the connector map says, and gets a slot of that composed output.
import type { Resolution } from '../displif/xenstore-fields.js';
import { ComposedOutput, LayoutUnfitError } from '../drm/compose/composed-output.js';
import type { Layout } from '../drm/compose/layout.js';
import type { OnDemandBackend, Output, OutputBackend, OutputSpec } from '../drm/output.js';
import { formatLayout, layoutConflict } from './layouts.js';
import { LayoutRefusals, type LayoutRefusalReason } from './layout-refusals.js';
import type { DomId } from '../util/ids.js';
import type { Size } from '../util/geometry.js';
import type { Fault } from './device-config.js';
import type { GuestIdentity } from './guest-identity.js';

export interface OutputMapOptions {
  /**
   * The backends whose outputs a connector may be mapped to by name, searched in order: the real
   * screen (KMS) first, then named headless outputs. A new output backend is one more entry.
   */
  readonly backends: readonly OutputBackend[];
  /** Where connectors without an output of their own get one, made for them; may also be in `backends`. */
  readonly onDemand: OnDemandBackend;
  /** `GUEST/UNIQUE_ID` (canonical, see parseConnectorMapping) → output name. */
  readonly connectorMap?: ReadonlyMap<string, string>;
  /** 'headless' (default): unmapped connectors get a headless output; 'refuse': the device fails. */
  readonly unmapped?: 'headless' | 'refuse';
  /** Where a claimed output's coming and going, and a collision (once per output and mapping), is said. */
  readonly warn?: (message: string) => void;
  /** Where `wayland[:NAME]` mappings get their window (the Wayland backend), when the daemon has one. */
  readonly windows?: WindowBackend;
  /** Output name → layout (a live view: applyLayouts() reads it again). */
  readonly layouts?: ReadonlyMap<string, Layout>;
}

/** A composed output and the backend of the output under it. */
interface Composed {
  readonly out: ComposedOutput;
  readonly backend: OutputBackend;
}

/** A backend of windows: made on demand, optionally full screen on one of the compositor's outputs. */
export interface WindowBackend extends OnDemandBackend {
  createOutput(spec: OutputSpec & { readonly fullscreenOn?: string }): Output;
}

/** `wayland` → a window; `wayland:NAME` → full screen on the compositor's output NAME; else undefined. */
export function windowTarget(mapped: string): { fullscreenOn?: string } | undefined {
  if (mapped === 'wayland') return {};
  if (mapped.startsWith('wayland:') && mapped.length > 'wayland:'.length)
    return { fullscreenOn: mapped.slice('wayland:'.length) };
  return undefined;
}

export interface OutputClaim {
  readonly output: Output;
  readonly backend: OutputBackend;
  /** The output was made for this connector and goes away with the claim. */
  readonly dedicated: boolean;
  /** Idempotent: gives the output back (and removes a dedicated one). */
  release(): void;
}

export type ClaimResult =
  | { readonly ok: true; readonly claim: OutputClaim }
  /** `fault`: 'config' when dom0's mapping cannot be served, 'frontend' when the guest's choice is refused. */
  | { readonly ok: false; readonly error: string; readonly fault: Fault };

export interface ConnectorRef {
  readonly guest: GuestIdentity;
  readonly devId: number;
  readonly index: number;
  readonly uniqueId: string;
  readonly resolution: Resolution;
}

/** Name of the headless output made for a connector without an output of its own. */
export function dedicatedOutputName(c: {
  readonly domid: DomId;
  readonly devId: number;
  readonly uniqueId: string;
}): string {
  return `dom${c.domid}.${c.devId}.${c.uniqueId}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A guest as a mapping names it: printable ASCII without '/', '=', ',' (the separators). */
const GUEST_RE = /^[\x21-\x2b\x2d\x2e\x30-\x3c\x3e-\x7e]{1,64}$/;
const MAX_DOMID = 0x7fef;

/**
 * The canonical form of a mapping's guest: a domid in decimal, a UUID in lower case, else the
 * domain name as given; undefined when it cannot name a guest.
 */
export function canonicalGuest(g: string): string | undefined {
  if (!GUEST_RE.test(g)) return undefined;
  if (/^\d+$/.test(g)) return Number(g) <= MAX_DOMID ? String(Number(g)) : undefined;
  if (UUID_RE.test(g)) return g.toLowerCase();
  return g;
}

const MAPPING_HELP = 'expected GUEST/UNIQUE_ID=OUTPUT with GUEST the domain name, UUID or domid, e.g. vm1/id0=HDMI-A-1';

/** Parses `GUEST/UNIQUE_ID=OUTPUT`; returns [canonical `GUEST/UNIQUE_ID`, output]. */
export function parseConnectorMapping(s: string): [string, string] {
  const m = /^([^=]{1,130})=([\x21-\x7e]{1,64})$/.exec(s);
  const key = m ? canonicalMappingKey(m[1]!) : undefined;
  if (!m || key === undefined) throw new Error(`connector mapping ${JSON.stringify(s.slice(0, 140))}: ${MAPPING_HELP}`);
  return [key, m[2]!];
}

/** `GUEST/UNIQUE_ID` in canonical form, or undefined. The unique-id may hold '/' (the guest part may not). */
export function canonicalMappingKey(k: string): string | undefined {
  const slash = k.indexOf('/');
  if (slash <= 0) return undefined;
  const guest = canonicalGuest(k.slice(0, slash));
  const uid = k.slice(slash + 1);
  if (guest === undefined || !/^[\x21-\x7e]{1,64}$/.test(uid) || uid.includes(',') || uid.includes('='))
    return undefined;
  return `${guest}/${uid}`;
}

/** The mapping keys that may name this connector, most specific first: domid, UUID, name. */
export function mappingKeys(guest: GuestIdentity, uniqueId: string): string[] {
  const who = [String(guest.domid), guest.uuid, guest.name].filter(
    (g): g is string => g !== undefined && canonicalGuest(g) === g,
  );
  return who.map((g) => `${g}/${uniqueId}`);
}

/** Bound on the collisions remembered for "said once" (a guest can vary its unique-id endlessly). */
const MAX_SAID = 1024;

export class OutputMap {
  private readonly inUse = new Map<string, string>();
  private readonly said = new Set<string>();

  private readonly unsubscribe: (() => void)[] = [];
  /** Output name → its composition, for every layout in force. */
  private readonly composed = new Map<string, Composed>();
  /** Outputs being taken over for a layout (setConfig in progress). */
  private readonly opening = new Map<string, Promise<void>>();
  /** The layouts refused now, and why (status, metrics). */
  readonly refusals = new LayoutRefusals();
  /** Outputs whose monitor was swapped, until they come back (this turn). */
  private readonly swaps = new Map<string, NodeJS.Immediate>();

  constructor(private readonly opts: OutputMapOptions) {
    for (const b of new Set([...opts.backends, opts.onDemand, ...(opts.windows ? [opts.windows] : [])])) {
      const added = (o: Output): void => this.hotplug(o, true);
      const removed = (o: Output, swapped?: boolean): void => this.hotplug(o, false, swapped === true);
      b.events.on('output-added', added);
      b.events.on('output-removed', removed);
      this.unsubscribe.push(() => {
        b.events.off('output-added', added);
        b.events.off('output-removed', removed);
      });
    }
  }

  /** Stops listening to the backends (they may outlive the map); the daemon ends compositions first (closeLayouts). */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const t of this.swaps.values()) clearImmediate(t);
    this.swaps.clear();
    void this.closeLayouts();
  }

  /** Ends every composition: its output turned off, its buffers released. Idempotent. */
  async closeLayouts(): Promise<void> {
    await Promise.all(this.opening.values());
    for (const [name, c] of this.composed) {
      await c.out.close();
      this.inUse.delete(name);
    }
    this.composed.clear();
  }

  /**
   * Brings the composed outputs in line with the layouts: new ones take their output over, changed
   * ones apply at their next vblank, removed ones blank their output (guests shown there keep
   * running, shown again at their next connection) and give it back once no guest is in them. A
   * layout that cannot be shown is refused with one line naming it; the previous one stays.
   * Resolves with the refusals (also warned), once every output taken over shows its layout.
   */
  async applyLayouts(): Promise<string[]> {
    const want = new Map(this.opts.layouts ?? []);
    // A refusal lasts while its layout is asked for; one for an output no longer named goes.
    this.refusals.retain((o) => want.has(o));
    const problems: string[] = [];
    const refuse = (output: string, reason: LayoutRefusalReason, line: string): void => {
      problems.push(line);
      const previousShown =
        this.composed.has(output) &&
        this.refusals.get(output)?.previousShown !== false &&
        !this.composed.get(output)!.out.stats.notShown;
      this.refusals.set({ output, reason, line, previousShown });
      this.opts.warn?.(`${line}; ${previousShown ? 'the previous layout stays' : 'the output shows no layout'}`);
    };
    const conflicted = new Set<string>();
    for (let conflict = layoutConflict(want); conflict !== undefined; conflict = layoutConflict(want)) {
      const output = /^layouts\.(\S+) =/.exec(conflict)![1]!;
      refuse(output, 'conflict', conflict);
      conflicted.add(output);
      const was = this.composed.get(output)?.out.currentLayout;
      if (was) want.set(output, was);
      else want.delete(output);
    }
    const waits: Promise<void>[] = [];
    for (const [name, layout] of want) {
      const c = this.composed.get(name);
      if (c) {
        const why = c.out.setLayout(layout);
        if (why) refuse(name, 'unfit', `layouts.${name} = ${JSON.stringify(formatLayout(layout))}: ${why}`);
        else if (!conflicted.has(name)) this.refusals.clear(name);
        continue;
      }
      if (this.opening.has(name)) continue;
      const found = this.find(name);
      if (!found) {
        this.sayOnce(
          `layout\n${name}`,
          `layouts.${name}: no output ${JSON.stringify(name)} (outputs: ${this.names().join(', ') || 'none'}); its guests are shown as if it had no layout`,
        );
        continue;
      }
      const holder = this.inUse.get(name);
      if (holder !== undefined) {
        this.sayOnce(
          `layout\n${name}\n${holder}`,
          `layouts.${name}: output ${name} shows ${holder}; the layout takes it when it lets go`,
        );
        continue;
      }
      this.inUse.set(name, 'its layout');
      const b = found.backend;
      const allocate = b.allocateDrawBuffer ? (size: Size) => b.allocateDrawBuffer!(size) : undefined;
      const p = ComposedOutput.open(found.output, layout, { warn: this.opts.warn, allocate }).then(
        (out) => {
          this.composed.set(name, { out, backend: found.backend });
          this.inUse.set(name, `layout ${formatLayout(layout)}`);
          if (!conflicted.has(name)) this.refusals.clear(name);
        },
        (err: unknown) => {
          this.inUse.delete(name);
          refuse(
            name,
            err instanceof LayoutUnfitError ? 'unfit' : 'output-refused',
            `layouts.${name} = ${JSON.stringify(formatLayout(layout))}: ${(err as Error).message}`,
          );
        },
      );
      const settled = p.finally(() => this.opening.delete(name));
      this.opening.set(name, settled);
      waits.push(settled);
    }
    for (const [name, c] of this.composed) {
      if (want.has(name)) continue;
      c.out.setLayout({ entries: [] });
      if (c.out.attached().length === 0) waits.push(this.uncompose(name, c));
    }
    await Promise.all(waits);
    return problems;
  }

  /** Composed outputs now, for status and metrics. */
  compositions(): readonly ComposedOutput[] {
    return [...this.composed.values()].map((c) => c.out);
  }

  private async uncompose(name: string, c: Composed): Promise<void> {
    if (this.composed.get(name) !== c) return;
    this.composed.delete(name);
    await c.out.close();
    this.inUse.delete(name);
  }

  /** The composed output whose layout names this connector, and the key it names it by. */
  private composedFor(guest: GuestIdentity, uniqueId: string): { c: Composed; key: string } | undefined {
    const keys = mappingKeys(guest, uniqueId);
    for (const key of keys)
      for (const c of this.composed.values())
        if (c.out.currentLayout.entries.some((e) => e.key === key)) return { c, key };
    return undefined;
  }

  private composedClaim(c: Composed, key: string, ref: ConnectorRef, who: string): ClaimResult {
    let slot;
    try {
      slot = c.out.attach(key, ref.resolution);
    } catch (err) {
      return { ok: false, fault: 'frontend', error: `${who}: ${(err as Error).message}` };
    }
    let held = true;
    return {
      ok: true,
      claim: {
        output: slot,
        backend: c.backend,
        dedicated: false,
        release: () => {
          if (!held) return;
          held = false;
          c.out.detach(slot);
          // A layout removed while this guest was in it: the output goes back once the last one leaves.
          if (!this.opts.layouts?.has(c.out.name) && c.out.attached().length === 0)
            void this.uncompose(c.out.name, c).then(() => this.applyLayouts());
        },
      },
    };
  }

  claim(c: ConnectorRef): ClaimResult {
    const domid = c.guest.domid;
    const who = `dom${domid} device ${c.devId} connector ${c.index} (unique-id ${JSON.stringify(c.uniqueId)})`;
    const composed = this.composedFor(c.guest, c.uniqueId);
    if (composed) return this.composedClaim(composed.c, composed.key, c, who);
    const map = this.opts.connectorMap;
    const key = map ? mappingKeys(c.guest, c.uniqueId).find((k) => map.has(k)) : undefined;
    if (key !== undefined) {
      const name = map!.get(key)!;
      const window = windowTarget(name);
      if (window) {
        const windows = this.opts.windows;
        if (!windows)
          return {
            ok: false,
            fault: 'config',
            error: `${who}: mapped by ${key} to a Wayland window, but the daemon has no Wayland output (--output wayland or --wayland-display)`,
          };
        return this.dedicated(c, who, windows, window);
      }
      const found = this.find(name);
      if (!found) {
        return {
          ok: false,
          fault: 'config',
          error: `${who}: mapped by ${key} to output ${JSON.stringify(name)}, which does not exist (outputs: ${this.names().join(', ') || 'none'})`,
        };
      }
      const holder = this.inUse.get(found.output.name);
      if (holder === undefined) return { ok: true, claim: this.take(found.output, found.backend, false, who) };
      this.sayOnce(
        `${found.output.name}\n${key}`,
        `${who}: mapped by ${key} to output ${found.output.name}, which already shows ${holder} (first come, first served); ${this.fallbackText()}`,
      );
    }
    if ((this.opts.unmapped ?? 'headless') === 'refuse') {
      return {
        ok: false,
        fault: 'frontend',
        error:
          key !== undefined
            ? `${who}: its output is in use and unmapped=refuse`
            : `${who}: no --connector mapping for this guest's unique-id, and unmapped=refuse`,
      };
    }
    return this.dedicated(c, who, this.opts.onDemand, {});
  }

  /** An output made for this connector alone (headless, or a window). */
  private dedicated(
    c: ConnectorRef,
    who: string,
    backend: OnDemandBackend | WindowBackend,
    extra: { fullscreenOn?: string },
  ): ClaimResult {
    const domid = c.guest.domid;
    const dname = dedicatedOutputName({ domid, devId: c.devId, uniqueId: c.uniqueId });
    if (backend.output(dname))
      return { ok: false, fault: 'frontend', error: `${who}: ${backend.kind} output ${dname} is already in use` };
    const out = backend.createOutput({
      name: dname,
      width: c.resolution.width,
      height: c.resolution.height,
      // The connector as the operator wrote it in the xl config: its unique-id (and device when not the first).
      connector: { domid, label: c.devId === 0 ? c.uniqueId : `vdispl${c.devId} ${c.uniqueId}`, uniqueId: c.uniqueId },
      ...extra,
    });
    return { ok: true, claim: this.take(out, backend, true, who) };
  }

  /** Output name → who uses it, for status. */
  claims(): ReadonlyMap<string, string> {
    return this.inUse;
  }

  private fallbackText(): string {
    return (this.opts.unmapped ?? 'headless') === 'refuse'
      ? 'refused (unmapped=refuse)'
      : 'it gets a headless output of its own';
  }

  private sayOnce(key: string, message: string): void {
    if (this.said.has(key) || this.said.size >= MAX_SAID) return;
    this.said.add(key);
    this.opts.warn?.(message);
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
        if (dedicated) (backend as OnDemandBackend).removeOutput(output.name);
        // A layout waiting for this output takes it now.
        else if (this.opts.layouts?.has(output.name)) void this.applyLayouts();
      },
    };
  }

  /**
   * A claimed output came back (a monitor plugged in again, maybe with other modes) or went
   * (unplugged): said; a layout on it is checked against the modes it has now (outputChanged).
   */
  private hotplug(o: Output, added: boolean, swapped = false): void {
    const holder = this.inUse.get(o.name);
    if (holder === undefined || this.isDedicated(o.name)) return;
    // A swap is said when the output comes back (in the same turn); if it does not, as gone.
    const swap = this.swaps.get(o.name);
    if (swap) {
      clearImmediate(swap);
      this.swaps.delete(o.name);
    }
    if (swapped) {
      this.swaps.set(
        o.name,
        setImmediate(() => {
          this.swaps.delete(o.name);
          this.hotplug(o, false);
        }),
      );
      return;
    }
    if (swap && added)
      this.opts.warn?.(
        `output ${o.name}: another monitor (other modes, no unplug seen): ${holder} goes on at its modes`,
      );
    const c = this.composed.get(o.name);
    const unfit = added && c?.out.physical === o ? c.out.outputChanged() : undefined;
    if (unfit !== undefined) {
      const line = `layouts.${o.name} = ${JSON.stringify(formatLayout(c!.out.currentLayout))}: ${unfit}`;
      this.refusals.set({ output: o.name, reason: 'unfit', line, previousShown: false });
      this.opts.warn?.(
        `${line}; its guests keep running, shown nowhere until a monitor with a mode that holds it is plugged in or a layout that fits is set`,
      );
      return;
    }
    // A monitor that shows the layout again ends a refusal its predecessor caused.
    if (added && c?.out.physical === o && this.refusals.get(o.name)?.previousShown === false)
      this.refusals.clear(o.name);
    if (swap && added) return;
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
