// The daemon's settings while it runs: the local layers (file, environment, command line) fixed
// at start, the XenStore layer re-read whenever the toolstack changes the subtree. Changes to the
// connector map, the quotas and the log level apply at once; other keys say that they take
// effect at the next start. The backend reads quotas and the connector map through live views,
// so it sees a change at its next decision without being told.
import { LayoutRefusals } from '../../backend/layout-refusals.js';
import type { Quotas } from '../../backend/quotas.js';
import type { Layout } from '../../drm/compose/layout.js';
import type { Logger } from '../../util/log.js';
import type { XenStore, XsWatch } from '../../xenstore/types.js';
import { WarnOnce } from '../warn-once.js';
import { buildLayer, describeProblem, type Layer, type Problem } from './layer.js';
import { layerKeys, resolve, shadowedBy, type Resolved } from './resolve.js';
import { SCALARS, type LayerName, type Settings } from './settings.js';
import { readSubtree, subtreeExists } from './xenstore-subtree.js';

export interface XenStoreConfigSource {
  readonly xs: XenStore;
  /** The subtree, e.g. /local/domain/0/vdispld. */
  readonly root: string;
  readonly ownDomid: number;
}

export interface LiveConfigOptions {
  /** Layers from the file, the environment and the command line (already validated). */
  readonly local: readonly Layer[];
  readonly xenstore?: XenStoreConfigSource;
  readonly log: Logger;
  /** After a reload changed a live setting; `settings` is the new whole. */
  readonly onChange?: (settings: Settings, changed: readonly string[]) => void;
}

const LIVE_FIELDS: readonly (keyof Settings)[] = [
  'connectors',
  'layouts',
  'quotas',
  ...SCALARS.filter((s) => s.live).map((s) => s.field),
];

export class LiveConfig {
  private current: Resolved;
  /** What the daemon started with: non-live keys keep these values. */
  private startup: Settings;
  private watch: XsWatch | undefined;
  private loop: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private reloadCount = 0;
  private readonly once: WarnOnce;
  /** Live views for the backend: always the current values. */
  readonly quotas: Quotas;
  readonly connectorMap: ReadonlyMap<string, string>;
  readonly layouts: ReadonlyMap<string, Layout>;
  /** The XenStore layer last applied: a layout refused in a new read keeps its value from here. */
  private xsLayer: Layer | undefined;
  /** XenStore layouts refused now because they cannot be parsed (status, metrics). */
  readonly layoutRefusals = new LayoutRefusals();

  private constructor(private readonly opts: LiveConfigOptions) {
    this.once = new WarnOnce((m) => opts.log.warn(m));
    this.current = resolve(opts.local);
    this.startup = this.current.settings;
    this.quotas = liveQuotas(() => this.current.settings.quotas);
    this.connectorMap = new LiveMap(() => this.current.settings.connectors);
    this.layouts = new LiveMap(() => this.current.settings.layouts);
  }

  /** Reads the XenStore subtree (if any) and starts watching it. */
  static async start(opts: LiveConfigOptions): Promise<LiveConfig> {
    const c = new LiveConfig(opts);
    const src = opts.xenstore;
    if (src) {
      await c.reload(true);
      c.watch = await src.xs.watch(src.root, () => c.changed());
      // The registration event is the first read above's twin: let its reload finish.
      await c.settled();
    }
    return c;
  }

  get settings(): Settings {
    return this.current.settings;
  }

  /** Which layer each set key came from. */
  get origin(): ReadonlyMap<string, LayerName> {
    return this.current.origin;
  }

  /** Quota entries set by some layer (the rest are defaults). */
  get quotaValues(): ReadonlyMap<string, number> {
    return this.current.quotaValues;
  }

  /** Completed reloads of the XenStore subtree (tests wait on it). */
  get reloads(): number {
    return this.reloadCount;
  }

  /** Resolves when no reload is running. */
  async settled(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Idempotent: stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.watch;
    this.watch = undefined;
    await this.settled();
    if (w) await w.close().catch(() => undefined);
  }

  private changed(): void {
    if (this.closed) return;
    this.dirty = true;
    this.loop ??= (async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        await this.reload(false);
      }
    })().finally(() => {
      this.loop = undefined;
    });
  }

  private async reload(initial: boolean): Promise<void> {
    const src = this.opts.xenstore!;
    let read;
    try {
      // Absent (the usual case) is what a transaction would have read too; a subtree written
      // right after this read fires the watch, and that reload reads it whole.
      read = (await subtreeExists(src.xs, src.root))
        ? await src.xs.transaction((tx) => readSubtree(tx, src.root, src.ownDomid))
        : { entries: [], rejected: [], exists: false };
    } catch (err) {
      // xenstored restarting: the client fires the watch again once it is back.
      this.once.say(
        `config: cannot read XenStore ${src.root}: ${(err as Error).message}`,
        `read:${(err as Error).message}`,
      );
      return;
    }
    for (const r of read.rejected) this.once.say(`config: XenStore ${r}`);
    const built = buildLayer('xenstore', read.entries);
    const { problems } = built;
    const layer = this.keepRefusedLayouts(built.layer, problems);
    this.xsLayer = layer;
    const unparsable = problems.filter((p) => p.kind === 'invalid' && p.key.startsWith('layouts.'));
    this.layoutRefusals.retain((o) => unparsable.some((p) => p.key === `layouts.${o}`));
    for (const p of problems) {
      const layout = unparsable.includes(p);
      const line = `config: ${describeProblem(p, `XenStore ${src.root}`)}`;
      this.once.say(
        `${line}${layout ? '; the previous layout stays' : ''}`,
        `${p.kind}:${p.key}:${'message' in p ? p.message : ''}`,
      );
      if (!layout) continue;
      const output = p.key.slice('layouts.'.length);
      const previousShown = layer.layouts.has(output) || this.opts.local.some((l) => l.layouts.has(output));
      this.layoutRefusals.set({ output, reason: 'unparsable', line, previousShown });
    }
    for (const key of layerKeys(layer)) {
      const over = shadowedBy(this.opts.local, key, 'xenstore');
      if (over !== undefined)
        this.once.say(
          `config: XenStore ${src.root} sets ${key}, but the ${over === 'cli' ? 'command line' : 'environment'} overrides it`,
          `shadow:${key}`,
        );
    }
    this.apply(resolve([...this.opts.local, layer]), initial);
    this.reloadCount++;
  }

  /**
   * A layout the toolstack rewrote with a value that cannot be parsed keeps the value it had: the
   * output goes on showing what it showed rather than falling back to a lower source or to none.
   */
  private keepRefusedLayouts(layer: Layer, problems: readonly Problem[]): Layer {
    const prev = this.xsLayer?.layouts;
    if (!prev) return layer;
    const kept = new Map(layer.layouts);
    for (const p of problems) {
      if (p.kind !== 'invalid' || !p.key.startsWith('layouts.')) continue;
      const output = p.key.slice('layouts.'.length);
      const was = prev.get(output);
      if (was) kept.set(output, was);
    }
    return kept.size === layer.layouts.size ? layer : { ...layer, layouts: kept };
  }

  private apply(next: Resolved, initial: boolean): void {
    const prev = this.current.settings;
    const merged: Record<string, unknown> = { ...next.settings };
    const changed: string[] = [];
    for (const s of SCALARS) {
      if (initial || s.live) continue;
      // Fixed at start: keep the value the daemon runs with, and say so once per new value.
      if (!sameValue(next.settings[s.field], this.startup[s.field])) {
        this.once.say(
          `config: ${s.key} changed in XenStore to ${JSON.stringify(next.settings[s.field])}; it takes effect at the next start`,
          `restart:${s.key}:${JSON.stringify(next.settings[s.field])}`,
        );
      }
      merged[s.field] = this.startup[s.field];
    }
    const settings = Object.freeze(merged) as unknown as Settings;
    for (const f of LIVE_FIELDS) if (!sameValue(prev[f], settings[f])) changed.push(f);
    this.current = { settings, origin: next.origin, quotaValues: next.quotaValues };
    if (initial) this.startup = settings;
    if (!initial && changed.length > 0) {
      this.opts.log.info({ changed }, `config: applied XenStore change to ${changed.join(', ')}`);
      this.opts.onChange?.(settings, changed);
    }
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || JSON.stringify(b.get(k)) !== JSON.stringify(v)) return false;
    return true;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null)
    return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

/** An object with the Quotas fields whose values are read from `get()` on every access. */
function liveQuotas(get: () => Quotas): Quotas {
  const o = {};
  for (const k of Object.keys(get()) as (keyof Quotas)[])
    Object.defineProperty(o, k, { enumerable: true, get: () => get()[k] });
  return Object.freeze(o) as Quotas;
}

class LiveMap<V> implements ReadonlyMap<string, V> {
  constructor(private readonly source: () => ReadonlyMap<string, V>) {}
  get size(): number {
    return this.source().size;
  }
  get(k: string): V | undefined {
    return this.source().get(k);
  }
  has(k: string): boolean {
    return this.source().has(k);
  }
  forEach(cb: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    this.source().forEach((v, k) => cb(v, k, this));
  }
  entries(): MapIterator<[string, V]> {
    return this.source().entries();
  }
  keys(): MapIterator<string> {
    return this.source().keys();
  }
  values(): MapIterator<V> {
    return this.source().values();
  }
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.source()[Symbol.iterator]();
  }
}
