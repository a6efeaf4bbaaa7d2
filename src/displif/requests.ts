// Requests: decode a private 64-byte copy of a ring slot into a typed request, validating every
// guest-controlled field (docs/PROTOCOL-NOTES.md, "What the backend checks"), and encode requests
// for simulated frontends.
// decodeRequest never throws: a bad slot becomes a failure carrying the negative errno to answer with.
import type { Rect } from '../util/geometry.js';
import type { Cookie, GrantRef } from '../util/ids.js';
import { allZero, isZeroU64, readU16, readU32, readU64, writeU16, writeU32, writeU64 } from './bytes.js';
import {
  DBUF_FLG_REQ_ALLOC,
  GENERIC_OPS,
  GNTDEV_MAX_REFS,
  EDID_MAX_SIZE,
  Op,
  PAGE_SIZE,
  SLOT_SIZE,
  XEN_E2BIG,
  XEN_EINVAL,
  XEN_ENOSYS,
  type ProtocolVersion,
} from './constants.js';
import type { CookieCache } from './cookie-cache.js';
import { SCANOUT_BPPS, formatByFourcc, frontendPitch, type PixelFormat } from './formats.js';
import { REQ } from './wire-layout.js';

/** Geometry of a display buffer; absent for a PRIME import, whose geometry arrives with FB_ATTACH. */
export interface DbufGeometry {
  readonly width: number;
  readonly height: number;
  readonly bpp: number;
}

export interface DbufCreate {
  readonly kind: 'dbuf-create';
  readonly dbufCookie: Cookie;
  /** null: the frontend sent width = height = bpp = 0 (Linux does for imported dma-bufs). */
  readonly geometry: DbufGeometry | null;
  /** Bytes; the buffer spans bufferPageCount(bufferSz) pages. */
  readonly bufferSz: number;
  /** XENDISPL_DBUF_FLG_REQ_ALLOC: the backend is asked to allocate and grant the pages. */
  readonly beAlloc: boolean;
  readonly grefDirectory: GrantRef;
  /** Offset of the image in the buffer. Read on v1 too: Linux sends it for imports without negotiating v2. */
  readonly dataOfs: number;
}

export interface DbufDestroy {
  readonly kind: 'dbuf-destroy';
  readonly dbufCookie: Cookie;
}

export interface FbAttach {
  readonly kind: 'fb-attach';
  readonly dbufCookie: Cookie;
  readonly fbCookie: Cookie;
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
}

export interface FbDetach {
  readonly kind: 'fb-detach';
  readonly fbCookie: Cookie;
}

/** What SET_CONFIG asks a connector to show: a framebuffer, placed as the rectangle says. */
export interface ScanoutConfig extends Rect {
  readonly fbCookie: Cookie;
  readonly bpp: number;
}

export interface SetConfig {
  readonly kind: 'set-config';
  /** null: an all-zero request, which turns the connector off. */
  readonly config: ScanoutConfig | null;
}

export interface PgFlip {
  readonly kind: 'pg-flip';
  readonly fbCookie: Cookie;
}

export interface GetEdid {
  readonly kind: 'get-edid';
  readonly bufferSz: number;
  readonly grefDirectory: GrantRef;
}

export type Request = DbufCreate | DbufDestroy | FbAttach | FbDetach | SetConfig | PgFlip | GetEdid;
export type RequestKind = Request['kind'];

export const OP_OF_KIND: Readonly<Record<RequestKind, Op>> = {
  'dbuf-create': Op.DBUF_CREATE,
  'dbuf-destroy': Op.DBUF_DESTROY,
  'fb-attach': Op.FB_ATTACH,
  'fb-detach': Op.FB_DETACH,
  'set-config': Op.SET_CONFIG,
  'pg-flip': Op.PG_FLIP,
  'get-edid': Op.GET_EDID,
};

export interface DecodeOptions {
  /** The version the frontend chose (absent `version` key means 1). GET_EDID exists only in 2. */
  readonly version: ProtocolVersion;
  /**
   * The connector whose ring carried the request. When given, buffer and framebuffer operations
   * anywhere but connector 0 are refused, as the header requires.
   */
  readonly connector?: number;
  /** Where repeated cookies come from without a new bigint each (the values are the same either way). */
  readonly cookies?: CookieCache;
}

export type DecodeResult =
  | { readonly ok: true; readonly id: number; readonly operation: Op; readonly req: Request }
  | {
      readonly ok: false;
      /** Echo these in the response: the Linux frontend matches on both. */
      readonly id: number;
      readonly operation: number;
      /** Negative Xen errno, ready to be the response status. */
      readonly errno: number;
      /** Why, for logs; a constant string, never guest bytes. */
      readonly reason: string;
    };

/** Pages behind a buffer of `bufferSz` bytes: ceil(bufferSz / 4096). */
export function bufferPageCount(bufferSz: number): number {
  return Math.ceil(bufferSz / PAGE_SIZE);
}

function fail(id: number, operation: number, errno: number, reason: string): DecodeResult {
  return { ok: false, id, operation, errno: -errno, reason };
}

function ok(id: number, operation: Op, req: Request): DecodeResult {
  return { ok: true, id, operation, req };
}

function cookieAt(b: Uint8Array, o: number, cache: CookieCache | undefined): Cookie {
  return cache ? cache.read(b, o) : (readU64(b, o) as Cookie);
}

/**
 * Decodes one request from `copy` (the first 64 bytes; a private copy, never the shared slot).
 * Checks are structural and independent of backend state: registries, quotas and connector
 * resolution are the caller's policy.
 *
 * Reserved header bytes, bytes past an operation's last field and unknown flag bits are ignored,
 * not refused: Linux xen-drm-front fills a request in place over the slot's previous contents
 * (it never clears it, and ORs REQ_ALLOC into the old `flags`), so a past response's status or an
 * older request's fields stay there. Refusing them would fail valid requests after any error.
 */
export function decodeRequest(copy: Uint8Array, opts: DecodeOptions): DecodeResult {
  if (copy.length < SLOT_SIZE) return fail(0, 0, XEN_EINVAL, 'short slot');
  const id = readU16(copy, REQ.id);
  const operation = copy[REQ.operation]!;
  const cookies = opts.cookies;
  if (opts.connector !== undefined && opts.connector !== 0 && GENERIC_OPS.has(operation)) {
    return fail(id, operation, XEN_EINVAL, 'buffer operation on a ring other than connector 0');
  }
  switch (operation) {
    case Op.DBUF_CREATE:
      return decodeDbufCreate(copy, id, cookies);
    case Op.DBUF_DESTROY: {
      const L = REQ.dbufDestroy;
      if (isZeroU64(copy, L.dbufCookie)) return fail(id, operation, XEN_EINVAL, 'dbuf cookie 0');
      return ok(id, Op.DBUF_DESTROY, { kind: 'dbuf-destroy', dbufCookie: cookieAt(copy, L.dbufCookie, cookies) });
    }
    case Op.FB_ATTACH:
      return decodeFbAttach(copy, id, cookies);
    case Op.FB_DETACH: {
      const L = REQ.fbDetach;
      if (isZeroU64(copy, L.fbCookie)) return fail(id, operation, XEN_EINVAL, 'fb cookie 0');
      return ok(id, Op.FB_DETACH, { kind: 'fb-detach', fbCookie: cookieAt(copy, L.fbCookie, cookies) });
    }
    case Op.SET_CONFIG:
      return decodeSetConfig(copy, id, cookies);
    case Op.PG_FLIP: {
      const L = REQ.pgFlip;
      if (isZeroU64(copy, L.fbCookie)) return fail(id, operation, XEN_EINVAL, 'fb cookie 0');
      return ok(id, Op.PG_FLIP, { kind: 'pg-flip', fbCookie: cookieAt(copy, L.fbCookie, cookies) });
    }
    case Op.GET_EDID:
      if (opts.version < 2) return fail(id, operation, XEN_ENOSYS, 'GET_EDID on a protocol version 1 connection');
      return decodeGetEdid(copy, id);
    default:
      return fail(id, operation, XEN_ENOSYS, 'unknown operation');
  }
}

function decodeDbufCreate(b: Uint8Array, id: number, cookies: CookieCache | undefined): DecodeResult {
  const L = REQ.dbufCreate;
  const op = Op.DBUF_CREATE;
  if (isZeroU64(b, L.dbufCookie)) return fail(id, op, XEN_EINVAL, 'dbuf cookie 0');
  const width = readU32(b, L.width);
  const height = readU32(b, L.height);
  const bpp = readU32(b, L.bpp);
  const bufferSz = readU32(b, L.bufferSz);
  const flags = readU32(b, L.flags);
  const grefDirectory = readU32(b, L.grefDirectory);
  const dataOfs = readU32(b, L.dataOfs);
  if (grefDirectory === 0) return fail(id, op, XEN_EINVAL, 'page directory grant ref 0');
  if (bufferSz === 0) return fail(id, op, XEN_EINVAL, 'buffer_sz 0');
  if (bufferPageCount(bufferSz) > GNTDEV_MAX_REFS)
    return fail(id, op, XEN_E2BIG, 'buffer larger than one grant mapping can hold');
  let geometry: DbufGeometry | null;
  if (width === 0 && height === 0 && bpp === 0) {
    if (dataOfs >= bufferSz) return fail(id, op, XEN_EINVAL, 'data_ofs beyond buffer_sz');
    geometry = null;
  } else {
    if (width === 0 || height === 0 || bpp === 0) return fail(id, op, XEN_EINVAL, 'partly zero geometry');
    // 64-bit: width * bpp * height overflows 32 bits long before it is rejected.
    const need = BigInt(dataOfs) + frontendPitch(width, bpp) * BigInt(height);
    if (need > BigInt(bufferSz)) return fail(id, op, XEN_EINVAL, 'image does not fit in buffer_sz');
    geometry = { width, height, bpp };
  }
  return ok(id, op, {
    kind: 'dbuf-create',
    dbufCookie: cookieAt(b, L.dbufCookie, cookies),
    geometry,
    bufferSz,
    beAlloc: (flags & DBUF_FLG_REQ_ALLOC) !== 0,
    grefDirectory: grefDirectory as GrantRef,
    dataOfs,
  });
}

function decodeFbAttach(b: Uint8Array, id: number, cookies: CookieCache | undefined): DecodeResult {
  const L = REQ.fbAttach;
  const op = Op.FB_ATTACH;
  if (isZeroU64(b, L.dbufCookie)) return fail(id, op, XEN_EINVAL, 'dbuf cookie 0');
  if (isZeroU64(b, L.fbCookie)) return fail(id, op, XEN_EINVAL, 'fb cookie 0');
  const width = readU32(b, L.width);
  const height = readU32(b, L.height);
  if (width === 0 || height === 0) return fail(id, op, XEN_EINVAL, 'zero framebuffer size');
  const format = formatByFourcc(readU32(b, L.pixelFormat));
  if (!format) return fail(id, op, XEN_EINVAL, 'pixel format not supported');
  return ok(id, op, {
    kind: 'fb-attach',
    dbufCookie: cookieAt(b, L.dbufCookie, cookies),
    fbCookie: cookieAt(b, L.fbCookie, cookies),
    width,
    height,
    format,
  });
}

function decodeSetConfig(b: Uint8Array, id: number, cookies: CookieCache | undefined): DecodeResult {
  const L = REQ.setConfig;
  const op = Op.SET_CONFIG;
  if (allZero(b, L.fbCookie, L.end)) return ok(id, op, { kind: 'set-config', config: null });
  if (isZeroU64(b, L.fbCookie)) return fail(id, op, XEN_EINVAL, 'fb cookie 0 with a non-zero configuration');
  const x = readU32(b, L.x);
  const y = readU32(b, L.y);
  const width = readU32(b, L.width);
  const height = readU32(b, L.height);
  const bpp = readU32(b, L.bpp);
  if (width === 0 || height === 0) return fail(id, op, XEN_EINVAL, 'zero scanout size');
  if (!SCANOUT_BPPS.has(bpp)) return fail(id, op, XEN_EINVAL, 'bpp of no supported format');
  // Sums of two u32s are exact in a double; the connector bound is the caller's check.
  return ok(id, op, {
    kind: 'set-config',
    config: { fbCookie: cookieAt(b, L.fbCookie, cookies), x, y, width, height, bpp },
  });
}

function decodeGetEdid(b: Uint8Array, id: number): DecodeResult {
  const L = REQ.getEdid;
  const op = Op.GET_EDID;
  const bufferSz = readU32(b, L.bufferSz);
  const grefDirectory = readU32(b, L.grefDirectory);
  if (grefDirectory === 0) return fail(id, op, XEN_EINVAL, 'page directory grant ref 0');
  if (bufferSz < EDID_MAX_SIZE) return fail(id, op, XEN_EINVAL, 'EDID buffer smaller than XENDISPL_EDID_MAX_SIZE');
  if (bufferPageCount(bufferSz) > GNTDEV_MAX_REFS)
    return fail(id, op, XEN_E2BIG, 'buffer larger than one grant mapping can hold');
  return ok(id, op, { kind: 'get-edid', bufferSz, grefDirectory: grefDirectory as GrantRef });
}

/**
 * Writes `req` with `id` into the 64 bytes at `dst[offset]`, zero-filled first. For simulated
 * frontends and tests; it writes what it is given, valid or not, so tests can build bad requests
 * from good ones.
 */
export function encodeRequest(req: Request, id: number, dst: Uint8Array, offset = 0): void {
  const b = dst.subarray(offset, offset + SLOT_SIZE);
  if (b.length < SLOT_SIZE) throw new RangeError('encodeRequest: destination shorter than a slot');
  b.fill(0);
  writeU16(b, REQ.id, id);
  b[REQ.operation] = OP_OF_KIND[req.kind];
  switch (req.kind) {
    case 'dbuf-create': {
      const L = REQ.dbufCreate;
      writeU64(b, L.dbufCookie, req.dbufCookie);
      writeU32(b, L.width, req.geometry?.width ?? 0);
      writeU32(b, L.height, req.geometry?.height ?? 0);
      writeU32(b, L.bpp, req.geometry?.bpp ?? 0);
      writeU32(b, L.bufferSz, req.bufferSz);
      writeU32(b, L.flags, req.beAlloc ? DBUF_FLG_REQ_ALLOC : 0);
      writeU32(b, L.grefDirectory, req.grefDirectory);
      writeU32(b, L.dataOfs, req.dataOfs);
      break;
    }
    case 'dbuf-destroy':
      writeU64(b, REQ.dbufDestroy.dbufCookie, req.dbufCookie);
      break;
    case 'fb-attach': {
      const L = REQ.fbAttach;
      writeU64(b, L.dbufCookie, req.dbufCookie);
      writeU64(b, L.fbCookie, req.fbCookie);
      writeU32(b, L.width, req.width);
      writeU32(b, L.height, req.height);
      writeU32(b, L.pixelFormat, req.format.fourcc);
      break;
    }
    case 'fb-detach':
      writeU64(b, REQ.fbDetach.fbCookie, req.fbCookie);
      break;
    case 'set-config': {
      const L = REQ.setConfig;
      const c = req.config;
      if (c) {
        writeU64(b, L.fbCookie, c.fbCookie);
        writeU32(b, L.x, c.x);
        writeU32(b, L.y, c.y);
        writeU32(b, L.width, c.width);
        writeU32(b, L.height, c.height);
        writeU32(b, L.bpp, c.bpp);
      }
      break;
    }
    case 'pg-flip':
      writeU64(b, REQ.pgFlip.fbCookie, req.fbCookie);
      break;
    case 'get-edid':
      writeU32(b, REQ.getEdid.bufferSz, req.bufferSz);
      writeU32(b, REQ.getEdid.grefDirectory, req.grefDirectory);
      break;
  }
}
