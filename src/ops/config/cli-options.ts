// The daemon's settings as command-line options, each also named with its environment variable in
// --help. Values are checked as they are parsed, so a bad one exits 2 with commander's one line
// naming the option; the checked raw strings become the 'cli' layer.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseConnectorMapping } from '../../backend/output-map.js';
import { CONFIG_ENV, CONNECTORS_ENV, QUOTAS_ENV, envName, splitPairs } from './env.js';
import type { RawEntry } from './layer.js';
import { SCALAR_BY_KEY, parseQuotaEntry, type ScalarSpec } from './settings.js';

export interface SettingsOptionValues {
  config?: string;
  drmDevice?: string;
  connector?: string[];
  quota?: string[];
  unmapped?: string;
  metrics?: string;
  viewer?: string;
  controlSocket?: string;
  logLevel?: string;
  logFormat?: string;
}

function checked(spec: ScalarSpec): (v: string) => string {
  return (v) => {
    try {
      spec.parse(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return v;
  };
}

function collectPairs(what: 'connector' | 'quota'): (v: string, prev: string[] | undefined) => string[] {
  return (v, prev) => {
    const out = [...(prev ?? [])];
    try {
      for (const [k, val] of splitPairs(v, `--${what}`)) {
        if (what === 'connector') parseConnectorMapping(`${k}=${val}`);
        else parseQuotaEntry(k, val);
        out.push(`${k}=${val}`);
      }
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return out;
  };
}

function scalarOption(flags: string, key: string): Option {
  const spec = SCALAR_BY_KEY.get(key)!;
  return new Option(flags, `${spec.help} (env: ${envName(key)})`).argParser(checked(spec));
}

/** Adds the settings options to a command (`vdispld run`, `vdispld demo`). */
export function addSettingsOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--config <file>', `TOML config file (default /etc/vdispld/vdispld.toml if present) (env: ${CONFIG_ENV})`))
    .addOption(scalarOption('--drm-device <dev>', 'drm-device'))
    .addOption(
      new Option('--connector <uniqueId=output>', `show the guest connector with this unique-id on OUTPUT; repeatable (env: ${CONNECTORS_ENV}, comma-separated)`).argParser(
        collectPairs('connector'),
      ),
    )
    .addOption(
      new Option('--quota <key=n>', `per-device limit (buffers, framebuffers, pages, buffer-pages, fb-width, fb-height, pending-flips); repeatable (env: ${QUOTAS_ENV})`).argParser(
        collectPairs('quota'),
      ),
    )
    .addOption(scalarOption('--unmapped <policy>', 'unmapped'))
    .addOption(scalarOption('--metrics <addr>', 'metrics'))
    .addOption(scalarOption('--viewer <addr>', 'viewer'))
    .addOption(scalarOption('--control-socket <path>', 'control-socket'))
    .addOption(scalarOption('--log-level <level>', 'log-level'))
    .addOption(scalarOption('--log-format <format>', 'log-format'));
}

/** The options the operator typed (not defaults), as entries of the 'cli' layer. */
export function cliEntries(cmd: Command): RawEntry[] {
  const o = cmd.opts<SettingsOptionValues>();
  const typed = (name: keyof SettingsOptionValues): boolean => cmd.getOptionValueSource(name) === 'cli';
  const out: RawEntry[] = [];
  const scalar = (name: keyof SettingsOptionValues, key: string): void => {
    if (typed(name) && o[name] !== undefined) out.push({ key, value: o[name] });
  };
  scalar('drmDevice', 'drm-device');
  scalar('unmapped', 'unmapped');
  scalar('metrics', 'metrics');
  scalar('viewer', 'viewer');
  scalar('controlSocket', 'control-socket');
  scalar('logLevel', 'log-level');
  scalar('logFormat', 'log-format');
  for (const p of typed('connector') ? (o.connector ?? []) : []) {
    const eq = p.indexOf('=');
    out.push({ key: `connectors.${p.slice(0, eq)}`, value: p.slice(eq + 1) });
  }
  for (const p of typed('quota') ? (o.quota ?? []) : []) {
    const eq = p.indexOf('=');
    out.push({ key: `quotas.${p.slice(0, eq)}`, value: p.slice(eq + 1) });
  }
  return out;
}

/** The config file the operator named (option, then environment), or undefined for the default. */
export function configFileOption(cmd: Command, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const o = cmd.opts<SettingsOptionValues>();
  if (o.config !== undefined) return o.config;
  const e = env[CONFIG_ENV];
  return e !== undefined && e !== '' ? e : undefined;
}
