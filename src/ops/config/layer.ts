// One source's settings: raw key/value entries (from a file, XenStore, the environment or the
// command line) checked against the settings table. A bad entry never aborts the others: it
// becomes a problem the caller decides about (fatal at start for local sources, a warning for a
// live XenStore change).
import type { Layout } from '../../drm/compose/layout.js';
import {
  MAP_FAMILIES,
  SCALAR_BY_KEY,
  parseConnectorEntry,
  parseLayoutEntry,
  parseQuotaEntry,
  type LayerName,
  type MapFamily,
  type Settings,
} from './settings.js';

/** `drm-device`, `connectors.<guest>/<unique-id>`, `layouts.<output>` or `quotas.<name>`, with the value as the source gave it. */
export interface RawEntry {
  readonly key: string;
  readonly value: unknown;
}

export type Problem =
  | { readonly kind: 'unknown'; readonly key: string }
  | { readonly kind: 'invalid'; readonly key: string; readonly message: string }
  /** A key this source may not set (a local path from XenStore). */
  | { readonly kind: 'not-allowed'; readonly key: string };

export interface Layer {
  readonly name: LayerName;
  /** Scalar key → parsed value. */
  readonly scalars: ReadonlyMap<string, Settings[keyof Settings]>;
  readonly connectors: ReadonlyMap<string, string>;
  readonly layouts: ReadonlyMap<string, Layout>;
  readonly quotas: ReadonlyMap<string, number>;
}

export function splitKey(key: string): { family: MapFamily; name: string } | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0) return undefined;
  const family = key.slice(0, dot);
  if (!(MAP_FAMILIES as readonly string[]).includes(family)) return undefined;
  return { family: family as MapFamily, name: key.slice(dot + 1) };
}

export function buildLayer(name: LayerName, entries: readonly RawEntry[]): { layer: Layer; problems: Problem[] } {
  const scalars = new Map<string, Settings[keyof Settings]>();
  const connectors = new Map<string, string>();
  const layouts = new Map<string, Layout>();
  const quotas = new Map<string, number>();
  const problems: Problem[] = [];
  for (const { key, value } of entries) {
    try {
      const scalar = SCALAR_BY_KEY.get(key);
      if (scalar) {
        if (name === 'xenstore' && !scalar.fromXenStore) {
          problems.push({ kind: 'not-allowed', key });
          continue;
        }
        scalars.set(key, scalar.parse(value));
        continue;
      }
      const m = splitKey(key);
      if (m?.family === 'connectors') {
        const [id, out] = parseConnectorEntry(m.name, value);
        connectors.set(id, out);
      } else if (m?.family === 'layouts') {
        layouts.set(m.name, parseLayoutEntry(m.name, value));
      } else if (m?.family === 'quotas') {
        quotas.set(m.name, parseQuotaEntry(m.name, value));
      } else {
        problems.push({ kind: 'unknown', key });
      }
    } catch (err) {
      problems.push({ kind: 'invalid', key, message: (err as Error).message });
    }
  }
  return { layer: { name, scalars, connectors, layouts, quotas }, problems };
}

export function describeProblem(p: Problem, where: string): string {
  switch (p.kind) {
    case 'unknown':
      return `${where}: unknown setting ${JSON.stringify(p.key)} ignored (see docs/OPERATIONS.md for the keys)`;
    case 'invalid':
      return `${where}: ${p.message}`;
    case 'not-allowed':
      return `${where}: ${p.key} cannot be set from XenStore (a local path); set it in the file, environment or command line`;
  }
}
