// A pino record as journal fields. The fields an operator filters on have fixed names (DOMID=,
// DEVID=, CONNECTOR=, OP=, ERRNO=), the level becomes syslog's PRIORITY=, and every value is made
// printable: a guest picks unique-ids, error strings and much of what a line says, and must not be
// able to forge a second entry, hide text from journalctl or flood the store with one line.
export type JournalField = readonly [name: string, value: string];

/** pino's numeric levels → syslog priorities (journald's PRIORITY=). */
export function priorityOf(level: unknown): number {
  const n = typeof level === 'number' ? level : 30;
  if (n >= 60) return 2; // fatal → crit
  if (n >= 50) return 3; // error → err
  if (n >= 40) return 4; // warn → warning
  if (n >= 30) return 6; // info → info
  return 7; // debug, trace → debug
}

/** Record keys with a fixed journal field name. */
const NAMED: Readonly<Record<string, string>> = {
  domid: 'DOMID',
  dev: 'DEVID',
  devId: 'DEVID',
  conn: 'CONNECTOR',
  connector: 'CONNECTOR',
  op: 'OP',
  errno: 'ERRNO',
};

/** Keys pino adds that the journal records by itself or that mean nothing there. */
const DROPPED = new Set(['time', 'level', 'pid', 'hostname', 'v']);

/** journald's own fields: a record key that would land on one of these is given our prefix. */
const RESERVED =
  /^(MESSAGE|MESSAGE_ID|PRIORITY|CODE_FILE|CODE_LINE|CODE_FUNC|ERRNO|INVOCATION_ID|USER_INVOCATION_ID|SYSLOG_[A-Z_]*|DOCUMENTATION|TID|UNIT|USER_UNIT|OBJECT_[A-Z_]*|COREDUMP[A-Z_]*|CURSOR|REALTIME_TIMESTAMP|MONOTONIC_TIMESTAMP)$/;

export const MAX_FIELD_BYTES = 2048;
export const MAX_MESSAGE_BYTES = 8192;

/**
 * Printable text: control characters (C0, DEL, C1) as \xNN (newline and tab as \n and \t) and a
 * backslash doubled, so the escaped form reads back unambiguously; cut at `max` UTF-16 units.
 */
export function escapeValue(s: string, max = MAX_FIELD_BYTES): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x2028 || c === 0x2029)
      out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
    if (out.length > max) return `${out.slice(0, max)}…`;
  }
  return out;
}

/** A record key as a journal field name: [A-Z0-9_], not starting with '_' or a digit, at most 64. */
export function fieldName(key: string): string | undefined {
  const named = NAMED[key];
  if (named) return named;
  const up = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')
    .replace(/^[_0-9]+/, '')
    .slice(0, 56);
  if (up === '') return undefined;
  return RESERVED.test(up) ? `VDISPLD_${up}` : up;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return '';
  try {
    return JSON.stringify(v);
  } catch {
    // Not JSON-able (a BigInt, a cycle): the field still says something rather than nothing.
    return String(v);
  }
}

/** ERRNO= is a positive errno by the journal's convention; Xen's are negative on the wire. */
function errnoValue(v: unknown): string | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,4}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n !== 0 ? String(Math.abs(n)) : undefined;
}

export interface FieldOptions {
  /** SYSLOG_IDENTIFIER= when the record has no name. */
  readonly identifier?: string;
}

export function recordFields(rec: Readonly<Record<string, unknown>>, opts: FieldOptions = {}): JournalField[] {
  const out: JournalField[] = [];
  const msg = rec['msg'];
  const err = rec['err'] as { type?: unknown; message?: unknown; stack?: unknown } | undefined;
  const message = msg !== undefined ? text(msg) : err?.message !== undefined ? text(err.message) : '';
  out.push(['MESSAGE', escapeValue(message, MAX_MESSAGE_BYTES)]);
  out.push(['PRIORITY', String(priorityOf(rec['level']))]);
  out.push(['SYSLOG_IDENTIFIER', escapeValue(text(rec['name'] ?? opts.identifier ?? 'vdispld'), 64)]);
  const seen = new Set<string>(['MESSAGE', 'PRIORITY', 'SYSLOG_IDENTIFIER']);
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'msg' || k === 'name' || DROPPED.has(k) || v === undefined) continue;
    if (k === 'err' && err && typeof err === 'object') {
      if (err.type !== undefined) out.push(['ERROR_TYPE', escapeValue(text(err.type), 128)]);
      if (err.message !== undefined && msg !== undefined) out.push(['ERROR_MESSAGE', escapeValue(text(err.message))]);
      if (err.stack !== undefined) out.push(['ERROR_STACK', escapeValue(text(err.stack), MAX_MESSAGE_BYTES)]);
      continue;
    }
    const name = fieldName(k);
    if (name === undefined || seen.has(name)) continue;
    const value = name === 'ERRNO' ? errnoValue(v) : escapeValue(text(v));
    if (value === undefined) continue;
    seen.add(name);
    out.push([name, value]);
  }
  return out;
}
