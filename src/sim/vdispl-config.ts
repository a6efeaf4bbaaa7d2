// xl's vdispl device syntax (xl.cfg(5)): 'backend=<dom>,be-alloc=<bool>,connectors=id0:1920x1080;id1:800x600'.
// Parsed as xl's parse_vdispl_config does: comma-separated key=value tokens, connectors split at
// ';', each connector at its first ':' into unique id and "%ux%u" resolution. Pure.

export interface VdisplConnector {
  readonly uniqueId: string;
  readonly width: number;
  readonly height: number;
}

export interface VdisplConfig {
  /** Backend domain: a domain id or a name the host resolves; xl defaults to 0. */
  readonly backend: string;
  readonly beAlloc: boolean;
  readonly connectors: readonly VdisplConnector[];
}

export class VdisplSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VdisplSpecError';
  }
}

const U32 = /^[0-9]+$/;

/** Like C's strtoul(s, NULL, 0) for the forms xl accepts ("0", "1", "0x1", "01"). */
function parseUlong(s: string): number | undefined {
  const t = s.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16);
  if (/^0[0-7]*$/.test(t)) return parseInt(t, 8);
  if (U32.test(t)) return Number(t);
  return undefined;
}

export function parseVdisplSpec(spec: string): VdisplConfig {
  let backend = '0';
  let beAlloc = false;
  let connectors: VdisplConnector[] | undefined;
  for (const token of spec.split(',')) {
    const t = token.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq < 0) throw new VdisplSpecError(`vdispl: unknown option "${t}" (expected key=value)`);
    const key = t.slice(0, eq);
    const value = t.slice(eq + 1);
    switch (key) {
      case 'backend':
        if (value === '') throw new VdisplSpecError('vdispl: backend= needs a domain name or id');
        backend = value;
        break;
      case 'be-alloc': {
        const n = parseUlong(value);
        if (n === undefined) throw new VdisplSpecError(`vdispl: be-alloc="${value}" is not a number (use 0 or 1)`);
        beAlloc = n !== 0;
        break;
      }
      case 'connectors':
        connectors = value.split(';').map(parseConnector);
        break;
      default:
        throw new VdisplSpecError(`vdispl: unknown option "${key}"`);
    }
  }
  if (!connectors || connectors.length === 0) throw new VdisplSpecError('vdispl: connectors= is required');
  return { backend, beAlloc, connectors };
}

function parseConnector(c: string): VdisplConnector {
  const colon = c.indexOf(':');
  if (colon <= 0) throw new VdisplSpecError(`vdispl: connector "${c}" is not <unique-id>:<W>x<H>`);
  const uniqueId = c.slice(0, colon);
  if (/[\s,]/.test(uniqueId)) throw new VdisplSpecError(`vdispl: connector id "${uniqueId}" contains a space or comma`);
  const m = /^([0-9]+)x([0-9]+)$/.exec(c.slice(colon + 1));
  if (!m)
    throw new VdisplSpecError(
      `vdispl: connector "${uniqueId}" has an invalid size "${c.slice(colon + 1)}" (expected <W>x<H>)`,
    );
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width > 0xffffffff || height > 0xffffffff)
    throw new VdisplSpecError(`vdispl: connector "${uniqueId}" size out of range`);
  return { uniqueId, width, height };
}

/** The xl syntax of a config (round-trips through parseVdisplSpec). */
export function formatVdisplSpec(cfg: VdisplConfig): string {
  const conns = cfg.connectors.map((c) => `${c.uniqueId}:${c.width}x${c.height}`).join(';');
  return `backend=${cfg.backend},be-alloc=${cfg.beAlloc ? 1 : 0},connectors=${conns}`;
}
