// The optional config file, TOML:
//
//   drm-device = "/dev/dri/card0"
//   metrics = "127.0.0.1:9464"
//   [connectors.vm1]          # the guest: its domain name, UUID or domid
//   id0 = "HDMI-A-1"          # its connector's unique-id = the output
//   [quotas]
//   buffers = 16
//
// The default path may be absent; a path the operator named must exist.
import { readFileSync, statSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import type { RawEntry } from './layer.js';

export const DEFAULT_CONFIG_FILE = '/etc/vdispld/vdispld.toml';
const MAX_FILE_BYTES = 1 << 20;

export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);

/**
 * Flattens a parsed TOML document to entries: top-level keys, `table.key` one level down, and
 * `table.sub/key` two down (`[connectors.vm1]` with `id0 = ...` is `connectors.vm1/id0`, the same
 * key as `"vm1/id0" = ...` under `[connectors]`).
 */
export function entriesFromToml(doc: Record<string, unknown>): RawEntry[] {
  const out: RawEntry[] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (isTable(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        if (isTable(v2)) for (const [k3, v3] of Object.entries(v2)) out.push({ key: `${k}.${k2}/${k3}`, value: v3 });
        else out.push({ key: `${k}.${k2}`, value: v2 });
      }
    } else {
      out.push({ key: k, value: v });
    }
  }
  return out;
}

export function parseConfigText(text: string, path: string): RawEntry[] {
  try {
    return entriesFromToml(parse(text) as Record<string, unknown>);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? 'syntax error';
      throw new ConfigFileError(`${path}:${err.line}:${err.column}: ${first}`);
    }
    throw err;
  }
}

/**
 * Reads the config file. `required`: the operator named it, so a missing file is an error; the
 * default path is optional. Returns undefined when an optional file is absent.
 */
export function readConfigFile(path: string, required: boolean): RawEntry[] | undefined {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new ConfigFileError(`config file ${path}: not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new ConfigFileError(`config file ${path}: ${code === 'ENOENT' ? 'does not exist' : (err as Error).message}`);
  }
  if (size > MAX_FILE_BYTES)
    throw new ConfigFileError(`config file ${path}: ${size} bytes, more than ${MAX_FILE_BYTES}`);
  return parseConfigText(readFileSync(path, 'utf8'), path);
}
