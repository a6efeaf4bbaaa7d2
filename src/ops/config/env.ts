// Settings from the environment (the unit's EnvironmentFile=/etc/default/vdispld): VDISPLD_ and
// the key in upper snake case. The two maps take comma-separated lists, as their options do:
// VDISPLD_CONNECTORS=vm1/id0=HDMI-A-1,vm2/id0=VGA-1 and VDISPLD_QUOTAS=buffers=16,pages=20000;
// layouts, whose values hold commas, one output per semicolon: VDISPLD_LAYOUTS=OUT=LAYOUT;OUT2=LAYOUT.
import type { RawEntry } from './layer.js';
import { SCALARS } from './settings.js';

export const ENV_PREFIX = 'VDISPLD_';

export function envName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/-/g, '_');
}

export const CONNECTORS_ENV = envName('connectors');
export const QUOTAS_ENV = envName('quotas');
export const LAYOUTS_ENV = envName('layouts');
export const CONFIG_ENV = envName('config');

/** Splits `a=b,c=d` into [key, value] pairs; an item without '=' is reported with the variable. */
export function splitPairs(list: string, what: string): [string, string][] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new Error(`${what}: ${JSON.stringify(item.slice(0, 60))} is not KEY=VALUE`);
      return [item.slice(0, eq), item.slice(eq + 1)];
    });
}

/** Every variable of the settings table and the maps: what the environment layer reads. */
export function settingsEnvNames(): Set<string> {
  return new Set([...SCALARS.map((s) => envName(s.key)), CONNECTORS_ENV, LAYOUTS_ENV, QUOTAS_ENV, CONFIG_ENV]);
}

/**
 * VDISPLD_* variables that nothing reads: a misspelt VDISPLD_METRIC would otherwise be ignored in
 * silence. `known` adds the variables of the commands' own options.
 */
export function unknownEnvNames(
  env: Readonly<Record<string, string | undefined>>,
  known: ReadonlySet<string>,
): string[] {
  const ours = settingsEnvNames();
  return Object.keys(env)
    .filter((k) => k.startsWith(ENV_PREFIX) && env[k] !== undefined && !ours.has(k) && !known.has(k))
    .sort();
}

export function envEntries(env: Readonly<Record<string, string | undefined>>): RawEntry[] {
  const out: RawEntry[] = [];
  for (const s of SCALARS) {
    const v = env[envName(s.key)];
    if (v !== undefined && v !== '') out.push({ key: s.key, value: v });
  }
  const c = env[CONNECTORS_ENV];
  if (c) for (const [k, v] of splitPairs(c, CONNECTORS_ENV)) out.push({ key: `connectors.${k}`, value: v });
  // Layouts hold commas themselves: outputs are separated by semicolons.
  const l = env[LAYOUTS_ENV];
  if (l)
    for (const item of l
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new Error(`${LAYOUTS_ENV}: ${JSON.stringify(item.slice(0, 60))} is not OUTPUT=LAYOUT`);
      out.push({ key: `layouts.${item.slice(0, eq)}`, value: item.slice(eq + 1) });
    }
  const q = env[QUOTAS_ENV];
  if (q) for (const [k, v] of splitPairs(q, QUOTAS_ENV)) out.push({ key: `quotas.${k}`, value: v });
  return out;
}
