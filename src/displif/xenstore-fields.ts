// Strict parsers for the XenStore values of a vdispl device. Ring refs and ports are written by
// the guest and so untrusted; resolution, unique-id and be-alloc are the toolstack's (read-only to
// the guest) but are checked just as hard. Every failure names the key and the value, escaped and
// truncated, so one log line says what is wrong where.
import type { EvtchnPort, GrantRef } from '../util/ids.js';
import {
  EVTCHN_MAX_PORT,
  LINUX_FE_MAX_HEIGHT,
  LINUX_FE_MAX_WIDTH,
  LIST_SEPARATOR,
  RESOLUTION_SEPARATOR,
  SUPPORTED_VERSIONS,
  XenbusState,
  type ProtocolVersion,
} from './constants.js';
import type { Size } from '../util/geometry.js';

export type FieldResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Longest value shown in an error message. */
const SHOW_MAX = 40;
/** Longest value parsed at all: the longest legitimate one ("4294967295x4294967295") is 21. */
const VALUE_MAX = 64;
const UNIQUE_ID_MAX = 64;

/** A value for a log line: printable ASCII kept, everything else escaped, long values cut. */
export function showValue(value: string): string {
  let s = '';
  for (const ch of value.slice(0, SHOW_MAX)) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') s += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) s += ch;
    else if (c <= 0xff) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += `\\u{${c.toString(16)}}`;
  }
  return `"${s}"${value.length > SHOW_MAX ? `... (${value.length} chars)` : ''}`;
}

function bad<T>(key: string, value: string, why: string): FieldResult<T> {
  return { ok: false, error: `XenStore ${key} = ${showValue(value)}: ${why}` };
}

function missing<T>(key: string): FieldResult<T> {
  return { ok: false, error: `XenStore ${key} is missing` };
}

const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;

/** Canonical decimal u32, as Xen's "%u" writes it: no sign, space, leading zero or hex. */
export function parseU32(key: string, value: string | undefined): FieldResult<number> {
  if (value === undefined) return missing(key);
  if (value.length > VALUE_MAX || !DECIMAL.test(value)) return bad(key, value, 'expected a decimal integer');
  const n = Number(value);
  if (n > 0xffffffff) return bad(key, value, 'larger than 32 bits');
  return { ok: true, value: n };
}

/** `req-ring-ref` / `evt-ring-ref`: a grant ref; 0 is never handed to a PV driver. */
export function parseGrantRef(key: string, value: string | undefined): FieldResult<GrantRef> {
  const r = parseU32(key, value);
  if (!r.ok) return r;
  if (r.value === 0) return bad(key, value!, 'grant ref 0 is invalid');
  return { ok: true, value: r.value as GrantRef };
}

/** `req-event-channel` / `evt-event-channel`: an event-channel port; 0 is never allocated. */
export function parseEvtchnPort(key: string, value: string | undefined): FieldResult<EvtchnPort> {
  const r = parseU32(key, value);
  if (!r.ok) return r;
  if (r.value === 0) return bad(key, value!, 'port 0 is invalid');
  if (r.value > EVTCHN_MAX_PORT) return bad(key, value!, `port above ${EVTCHN_MAX_PORT}`);
  return { ok: true, value: r.value as EvtchnPort };
}

/** A connector's `resolution`: its visible area. */
export type Resolution = Size;

export interface ResolutionLimits {
  readonly maxWidth: number;
  readonly maxHeight: number;
}

/** What the Linux frontend accepts; a larger resolution leaves the guest with no mode at all. */
export const LINUX_FE_LIMITS: ResolutionLimits = { maxWidth: LINUX_FE_MAX_WIDTH, maxHeight: LINUX_FE_MAX_HEIGHT };

/** `<i>/resolution`: "<W>x<H>", both non-zero and within `limits`. */
export function parseResolution(
  key: string,
  value: string | undefined,
  limits: ResolutionLimits = LINUX_FE_LIMITS,
): FieldResult<Resolution> {
  if (value === undefined) return missing(key);
  const parts = value.length <= VALUE_MAX ? value.split(RESOLUTION_SEPARATOR) : [];
  if (parts.length !== 2) return bad(key, value, 'expected <width>x<height>');
  const w = parseU32(key, parts[0]);
  const h = parseU32(key, parts[1]);
  if (!w.ok || !h.ok) return bad(key, value, 'expected <width>x<height> in decimal');
  if (w.value === 0 || h.value === 0) return bad(key, value, 'zero width or height');
  if (w.value > limits.maxWidth || h.value > limits.maxHeight) {
    return bad(key, value, `larger than ${limits.maxWidth}x${limits.maxHeight}`);
  }
  return { ok: true, value: { width: w.value, height: h.value } };
}

/** `be-alloc`: absent means the frontend allocates; libxl writes "0" or "1"; anything else is refused. */
export function parseBeAlloc(key: string, value: string | undefined): FieldResult<boolean> {
  if (value === undefined || value === '0') return { ok: true, value: false };
  if (value === '1') return { ok: true, value: true };
  return bad(key, value, 'expected 0 or 1');
}

/**
 * `<i>/unique-id`: names the physical output. xl forbids spaces and commas in it; we also keep it
 * to printable ASCII of bounded length, since it ends up in logs, metrics and option matching.
 */
export function parseUniqueId(key: string, value: string | undefined): FieldResult<string> {
  if (value === undefined) return missing(key);
  if (value.length === 0) return bad(key, value, 'empty');
  if (value.length > UNIQUE_ID_MAX) return bad(key, value, `longer than ${UNIQUE_ID_MAX} characters`);
  if (!/^[\x21-\x7e]+$/.test(value) || value.includes(',')) {
    return bad(key, value, 'only printable ASCII without spaces or commas');
  }
  return { ok: true, value };
}

/** The backend's `versions` value: the versions we speak, e.g. "1,2". */
export function formatVersions(versions: readonly number[] = SUPPORTED_VERSIONS): string {
  return versions.join(LIST_SEPARATOR);
}

/** `versions` (as a frontend reads it): a non-empty list of distinct decimal versions. */
export function parseVersions(key: string, value: string | undefined): FieldResult<number[]> {
  if (value === undefined) return missing(key);
  if (value.length > VALUE_MAX) return bad(key, value, 'too long');
  const out: number[] = [];
  for (const part of value.split(LIST_SEPARATOR)) {
    const r = parseU32(key, part);
    if (!r.ok || r.value === 0) return bad(key, value, 'expected a comma-separated list of versions');
    if (out.includes(r.value)) return bad(key, value, `version ${r.value} listed twice`);
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/**
 * The frontend's `version`. Absent means 1: the Linux frontend never writes it. A version we did
 * not offer is refused.
 */
export function parseVersion(
  key: string,
  value: string | undefined,
  offered: readonly number[] = SUPPORTED_VERSIONS,
): FieldResult<ProtocolVersion> {
  if (value === undefined) return { ok: true, value: 1 };
  const r = parseU32(key, value);
  if (!r.ok) return r;
  if (!offered.includes(r.value) || (r.value !== 1 && r.value !== 2))
    return bad(key, value, `not one of the offered versions ${formatVersions(offered)}`);
  return { ok: true, value: r.value };
}

/** `state`: a XenbusState number. */
export function parseXenbusState(key: string, value: string | undefined): FieldResult<XenbusState> {
  const r = parseU32(key, value);
  if (!r.ok) return r;
  if (r.value > XenbusState.Reconfigured) return bad(key, value!, 'not a XenbusState');
  return { ok: true, value: r.value as XenbusState };
}
