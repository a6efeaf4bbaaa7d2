// Request payloads and reply parsing for each XenStore operation, on the client side. Pure: every
// function either returns a value or a ReplyProblem, so a malformed reply is a typed failure of
// that one request, never an exception in the reader.
import type { XsErrorName, XsPerm } from './types.js';
import { describePathProblem, pathProblem } from './paths.js';
import { DOMID_MAX, formatPerm, parsePerm } from './perms.js';
import { PAYLOAD_MAX, isXsErrorName, joinStrings, splitStrings } from './wire.js';

/** A request the client refuses to send, with the error it gets instead. */
export interface RequestProblem {
  readonly xsError: 'EINVAL' | 'E2BIG';
  readonly message: string;
}

export type Built =
  { readonly ok: true; readonly payload: Buffer } | { readonly ok: false; readonly problem: RequestProblem };

const built = (payload: Buffer): Built =>
  payload.length > PAYLOAD_MAX
    ? {
        ok: false,
        problem: {
          xsError: 'E2BIG',
          message: `request of ${payload.length} bytes exceeds the ${PAYLOAD_MAX}-byte XenStore payload limit`,
        },
      }
    : { ok: true, payload };

const refused = (message: string): Built => ({ ok: false, problem: { xsError: 'EINVAL', message } });

function checkPath(path: string, allowSpecial: boolean): string | undefined {
  const p = pathProblem(path, allowSpecial);
  return p === undefined
    ? undefined
    : `bad XenStore path '${path.length > 80 ? `${path.slice(0, 80)}…` : path}': ${describePathProblem(p)}`;
}

/** `<path>|` for READ, MKDIR, RM, DIRECTORY, GET_PERMS (the last also on special @ nodes). */
export function pathRequest(path: string, allowSpecial = false): Built {
  const bad = checkPath(path, allowSpecial);
  return bad !== undefined ? refused(bad) : built(joinStrings([path]));
}

/** `<path>|<value>`: the value is not nul-terminated. */
export function writeRequest(path: string, value: string): Built {
  const bad = checkPath(path, false);
  if (bad !== undefined) return refused(bad);
  return built(Buffer.concat([joinStrings([path]), Buffer.from(value, 'utf8')]));
}

export function setPermsRequest(path: string, perms: readonly XsPerm[]): Built {
  const bad = checkPath(path, true);
  if (bad !== undefined) return refused(bad);
  if (perms.length === 0) return refused('setPerms needs at least the owner entry');
  for (const p of perms) {
    if (
      !Number.isInteger(p.domid) ||
      p.domid < 0 ||
      p.domid > DOMID_MAX ||
      !'nrwb'.includes(p.access) ||
      p.access.length !== 1
    ) {
      return refused(`bad permission ${JSON.stringify(p)}`);
    }
  }
  return built(joinStrings([path, ...perms.map(formatPerm)]));
}

/** `<wpath>|<token>|` for WATCH and UNWATCH; special @ paths allowed. */
export function watchRequest(path: string, token: string): Built {
  const bad = checkPath(path, true);
  if (bad !== undefined) return refused(bad);
  if (token.includes('\0')) return refused('watch token contains a nul');
  return built(joinStrings([path, token]));
}

export function domidRequest(domid: number): Built {
  if (!Number.isInteger(domid) || domid < 0 || domid > DOMID_MAX) return refused(`bad domain id ${domid}`);
  return built(joinStrings([String(domid)]));
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };
const bad = (why: string): Parsed<never> => ({ ok: false, why });
const good = <T>(value: T): Parsed<T> => ({ ok: true, value });

/** An ERROR reply: the error name, or a problem when it names no error xs_wire.h knows. */
export function parseError(payload: Buffer): Parsed<XsErrorName> {
  const strs = splitStrings(payload);
  const name = strs?.[0] ?? payload.toString('latin1');
  return isXsErrorName(name) ? good(name) : bad(`xenstored answered an unknown error '${name.slice(0, 32)}'`);
}

export function parseOk(payload: Buffer): Parsed<void> {
  return payload.toString('latin1') === 'OK\0' ? good(undefined) : bad('expected OK');
}

export function parseDirectory(payload: Buffer): Parsed<string[]> {
  const names = splitStrings(payload);
  if (names === undefined) return bad('directory listing not nul-terminated');
  for (const n of names) if (n.length === 0 || n.includes('/')) return bad('directory listing holds an invalid name');
  return good(names);
}

export function parsePerms(payload: Buffer): Parsed<XsPerm[]> {
  const strs = splitStrings(payload);
  if (strs === undefined || strs.length === 0) return bad('permission list empty or not nul-terminated');
  const perms: XsPerm[] = [];
  for (const s of strs) {
    const p = parsePerm(s);
    if (p === undefined) return bad(`bad permission '${s.slice(0, 16)}'`);
    perms.push(p);
  }
  return good(perms);
}

/** TRANSACTION_START's answer: a decimal u32, never 0 (0 means "no transaction"). */
export function parseTxId(payload: Buffer): Parsed<number> {
  const s = splitStrings(payload)?.[0];
  if (s === undefined || !/^\d{1,10}$/.test(s)) return bad('transaction id is not a decimal number');
  const id = Number(s);
  return id === 0 || id > 0xffffffff ? bad('transaction id out of range') : good(id);
}

/** A single nul-terminated string (GET_DOMAIN_PATH). */
export function parseString(payload: Buffer): Parsed<string> {
  const strs = splitStrings(payload);
  return strs === undefined || strs.length !== 1 ? bad('expected one nul-terminated string') : good(strs[0]!);
}

/** WATCH_EVENT: `<epath>|<token>|`. */
export function parseWatchEvent(payload: Buffer): Parsed<{ path: string; token: string }> {
  const strs = splitStrings(payload);
  if (strs === undefined || strs.length < 2) return bad('watch event without path and token');
  return good({ path: strs[0]!, token: strs[1]! });
}
