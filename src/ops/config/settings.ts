// The daemon's settings: one table that says, for every key, how a raw value is parsed, where it
// may come from and whether a running daemon applies a change to it. Every source (file,
// XenStore, environment, command line) speaks these key names, so an operator learns them once.
import { DEFAULT_QUOTAS, QUOTA_OPTION_KEYS, parseQuotas, type Quotas } from '../../backend/quotas.js';
import { parseConnectorMapping } from '../../backend/output-map.js';
import { parseLayout } from '../../backend/layouts.js';
import type { Layout } from '../../drm/compose/layout.js';
import { isLogLevel } from '../../util/log.js';
import type { LevelWithSilent } from 'pino';
import { parseListen, type ListenSetting } from './listen.js';

export type LogFormat = 'auto' | 'json' | 'journal';
export type Unmapped = 'headless' | 'refuse';

export interface Settings {
  /** 'auto' (the first KMS card, else headless), 'none' (headless only) or a device path. */
  readonly drmDevice: string;
  /** `GUEST/UNIQUE_ID` (canonical) → output name. */
  readonly connectors: ReadonlyMap<string, string>;
  /** Output name → the guest connectors composed on it (see backend/layouts.ts). */
  readonly layouts: ReadonlyMap<string, Layout>;
  readonly unmapped: Unmapped;
  /** Scan guest buffers out directly where the card allows (KMS); off copies every new framebuffer. */
  readonly zeroCopy: boolean;
  readonly quotas: Quotas;
  readonly metrics: ListenSetting;
  readonly viewer: ListenSetting;
  readonly controlSocket: string;
  readonly logLevel: LevelWithSilent;
  readonly logFormat: LogFormat;
}

export const DEFAULT_CONTROL_SOCKET = '/run/vdispld/control.sock';

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  drmDevice: 'auto',
  connectors: new Map<string, string>(),
  layouts: new Map<string, Layout>(),
  unmapped: 'headless',
  zeroCopy: true,
  quotas: DEFAULT_QUOTAS,
  metrics: 'off',
  viewer: 'off',
  controlSocket: DEFAULT_CONTROL_SOCKET,
  logLevel: 'info',
  logFormat: 'auto',
} satisfies Settings);

/** Where a value came from, lowest precedence first. */
export const LAYERS = ['default', 'file', 'xenstore', 'env', 'cli'] as const;
export type LayerName = (typeof LAYERS)[number];

type ScalarField = Exclude<keyof Settings, 'connectors' | 'layouts' | 'quotas'>;

export interface ScalarSpec<F extends ScalarField = ScalarField> {
  readonly key: string;
  readonly field: F;
  readonly help: string;
  /** A running daemon applies a change from XenStore (others take effect at the next start). */
  readonly live: boolean;
  /** May be set from XenStore (a toolstack in another domain must not pick local file paths). */
  readonly fromXenStore: boolean;
  parse(raw: unknown): Settings[F];
}

function str(key: string, raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw new Error(`${key}: expected a string, got ${typeof raw}`);
}

export function parseBool(key: string, raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = str(key, raw).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new Error(`${key} = ${JSON.stringify(s.slice(0, 40))}: expected on or off`);
}

function oneOf<T extends string>(key: string, raw: unknown, values: readonly T[]): T {
  const s = str(key, raw).trim();
  if ((values as readonly string[]).includes(s)) return s as T;
  throw new Error(`${key} = ${JSON.stringify(s.slice(0, 40))}: expected one of ${values.join(', ')}`);
}

function listen(key: string, raw: unknown): ListenSetting {
  try {
    return parseListen(str(key, raw));
  } catch (err) {
    throw new Error(`${key}: ${(err as Error).message}`);
  }
}

function absolutePath(key: string, raw: unknown): string {
  const s = str(key, raw).trim();
  if (!s.startsWith('/') || s.length > 107 || /[\0\n]/.test(s))
    throw new Error(`${key} = ${JSON.stringify(s.slice(0, 40))}: expected an absolute path shorter than 108 bytes`);
  return s;
}

function drmDevice(key: string, raw: unknown): string {
  const s = str(key, raw).trim();
  if (s === 'auto' || s === 'none') return s;
  if (/^\/dev\/dri\/[A-Za-z0-9_-]{1,32}$/.test(s)) return s;
  throw new Error(`${key} = ${JSON.stringify(s.slice(0, 40))}: expected auto, none or /dev/dri/cardN`);
}

function spec<F extends ScalarField>(s: ScalarSpec<F>): ScalarSpec<F> {
  return s;
}

export const SCALARS: readonly ScalarSpec[] = [
  spec({
    key: 'drm-device',
    field: 'drmDevice',
    live: false,
    fromXenStore: true,
    help: 'KMS device: auto, none (headless only) or /dev/dri/cardN',
    parse: (r) => drmDevice('drm-device', r),
  }),
  spec({
    key: 'unmapped',
    field: 'unmapped',
    live: false,
    fromXenStore: true,
    help: 'connectors with no mapping, or whose mapped output is taken: headless (own virtual output) or refuse',
    parse: (r) => oneOf('unmapped', r, ['headless', 'refuse'] as const),
  }),
  spec({
    key: 'zero-copy',
    field: 'zeroCopy',
    live: true,
    fromXenStore: true,
    help: 'scan guest buffers out directly where the KMS card allows: on, or off to copy every framebuffer attached from then on',
    parse: (r) => parseBool('zero-copy', r),
  }),
  spec({
    key: 'metrics',
    field: 'metrics',
    live: false,
    fromXenStore: true,
    help: 'Prometheus metrics listener: off, PORT or HOST:PORT (loopback unless a host is named)',
    parse: (r) => listen('metrics', r),
  }),
  spec({
    key: 'viewer',
    field: 'viewer',
    live: false,
    fromXenStore: true,
    help: 'live viewer listener: off, PORT or HOST:PORT (loopback unless a host is named)',
    parse: (r) => listen('viewer', r),
  }),
  spec({
    key: 'control-socket',
    field: 'controlSocket',
    live: false,
    fromXenStore: false,
    help: 'unix socket for vdispld status/snapshot (created 0600)',
    parse: (r) => absolutePath('control-socket', r),
  }),
  spec({
    key: 'log-level',
    field: 'logLevel',
    live: true,
    fromXenStore: true,
    help: 'fatal, error, warn, info, debug, trace or silent',
    parse: (r) => {
      const s = str('log-level', r).trim();
      if (!isLogLevel(s))
        throw new Error(
          `log-level = ${JSON.stringify(s.slice(0, 40))}: expected fatal, error, warn, info, debug, trace or silent`,
        );
      return s;
    },
  }),
  spec({
    key: 'log-format',
    field: 'logFormat',
    live: false,
    fromXenStore: false,
    help: 'auto (journal under systemd, else JSON), json or journal',
    parse: (r) => oneOf('log-format', r, ['auto', 'json', 'journal'] as const),
  }),
];

export const SCALAR_BY_KEY: ReadonlyMap<string, ScalarSpec> = new Map(SCALARS.map((s) => [s.key, s]));

/** Families of keys `connectors.<guest>/<unique-id>`, `layouts.<output>` and `quotas.<name>`; all apply live. */
export const MAP_FAMILIES = ['connectors', 'layouts', 'quotas'] as const;
export type MapFamily = (typeof MAP_FAMILIES)[number];

export { QUOTA_OPTION_KEYS };

/** Validates one connector entry `connectors.<guest>/<unique-id>`; returns [canonical key, output]. */
export function parseConnectorEntry(key: string, raw: unknown): [string, string] {
  return parseConnectorMapping(`${key}=${str(`connectors.${key}`, raw).trim()}`);
}

/** Validates one layout entry `layouts.<output>`; a refusal names the key and the value. */
export function parseLayoutEntry(output: string, raw: unknown): Layout {
  return parseLayout(output, str(`layouts.${output}`, raw).trim());
}

/** Validates one quota entry; returns the number. */
export function parseQuotaEntry(name: string, raw: unknown): number {
  if (!QUOTA_OPTION_KEYS.includes(name))
    throw new Error(`quotas.${name}: unknown quota; known: ${QUOTA_OPTION_KEYS.join(', ')}`);
  const v = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : str(`quotas.${name}`, raw).trim();
  parseQuotas(`${name}=${v}`);
  return Number(v);
}

/** Quotas with `entries` (quota key name → number, validated) over the defaults. */
export function quotasFrom(entries: ReadonlyMap<string, number>): Quotas {
  return parseQuotas([...entries].map(([k, v]) => `${k}=${v}`).join(','), DEFAULT_QUOTAS);
}
