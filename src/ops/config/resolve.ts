// Precedence: default < file < xenstore < env < cli. What an operator types for this one start
// (command line, environment) beats the toolstack's XenStore subtree, which beats the installed
// file. Maps merge entry by entry: a connector mapped in the file stays mapped unless a higher
// source maps the same guest's same unique-id.
import { LAYERS, DEFAULT_SETTINGS, SCALARS, quotasFrom, type LayerName, type Settings } from './settings.js';
import type { Layer } from './layer.js';
import type { Layout } from '../../drm/compose/layout.js';

export interface Resolved {
  readonly settings: Settings;
  /** Every key that is set, with the layer it came from ('default' for unset scalars). */
  readonly origin: ReadonlyMap<string, LayerName>;
  /** The quota entries set by some layer, by key name (buffers, pages, ...). */
  readonly quotaValues: ReadonlyMap<string, number>;
}

export function resolve(layers: readonly Layer[]): Resolved {
  const ordered = [...layers].sort((a, b) => LAYERS.indexOf(a.name) - LAYERS.indexOf(b.name));
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  const origin = new Map<string, LayerName>();
  for (const s of SCALARS) origin.set(s.key, 'default');
  const connectors = new Map<string, string>();
  const layouts = new Map<string, Layout>();
  const quotas = new Map<string, number>();
  for (const layer of ordered) {
    for (const s of SCALARS) {
      if (!layer.scalars.has(s.key)) continue;
      out[s.field] = layer.scalars.get(s.key);
      origin.set(s.key, layer.name);
    }
    for (const [id, o] of layer.connectors) {
      connectors.set(id, o);
      origin.set(`connectors.${id}`, layer.name);
    }
    // A layout is one value: a higher source's layout of an output replaces the lower one's whole.
    for (const [o, l] of layer.layouts) {
      layouts.set(o, l);
      origin.set(`layouts.${o}`, layer.name);
    }
    for (const [k, v] of layer.quotas) {
      quotas.set(k, v);
      origin.set(`quotas.${k}`, layer.name);
    }
  }
  out['connectors'] = connectors;
  out['layouts'] = layouts;
  out['quotas'] = quotasFrom(quotas);
  return { settings: Object.freeze(out) as unknown as Settings, origin, quotaValues: quotas };
}

/** The layer that sets `key` with the highest precedence above `than`, if any. */
export function shadowedBy(layers: readonly Layer[], key: string, than: LayerName): LayerName | undefined {
  let found: LayerName | undefined;
  for (const l of layers) {
    if (LAYERS.indexOf(l.name) <= LAYERS.indexOf(than)) continue;
    if (!hasKey(l, key)) continue;
    if (found === undefined || LAYERS.indexOf(l.name) > LAYERS.indexOf(found)) found = l.name;
  }
  return found;
}

export function hasKey(l: Layer, key: string): boolean {
  if (l.scalars.has(key)) return true;
  if (key.startsWith('connectors.')) return l.connectors.has(key.slice('connectors.'.length));
  if (key.startsWith('layouts.')) return l.layouts.has(key.slice('layouts.'.length));
  if (key.startsWith('quotas.')) return l.quotas.has(key.slice('quotas.'.length));
  return false;
}

export function layerKeys(l: Layer): string[] {
  return [
    ...l.scalars.keys(),
    ...[...l.connectors.keys()].map((k) => `connectors.${k}`),
    ...[...l.layouts.keys()].map((k) => `layouts.${k}`),
    ...[...l.quotas.keys()].map((k) => `quotas.${k}`),
  ];
}
