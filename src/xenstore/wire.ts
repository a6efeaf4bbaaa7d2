// The xs_wire.h framing, shared by the client and the simulated xenstored: a 16-byte native-endian
// header {type, req_id, tx_id, len} and at most XENSTORE_PAYLOAD_MAX bytes of payload. Pure: no I/O.

export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsTypeCode = (typeof XsType)[keyof typeof XsType];

const typeNames = new Map<number, string>(Object.entries(XsType).map(([k, v]) => [v, k]));
export const xsTypeName = (t: number): string => typeNames.get(t) ?? `type ${t}`;

export const HEADER_SIZE = 16;
export const PAYLOAD_MAX = 4096;
export const ABS_PATH_MAX = 3072;
export const REL_PATH_MAX = 2048;

/** The error names of xs_wire.h's xsd_errors, in its order, plus oxenstored's EQUOTA. */
export const XS_ERROR_NAMES = [
  'EINVAL',
  'EACCES',
  'EEXIST',
  'EISDIR',
  'ENOENT',
  'ENOMEM',
  'ENOSPC',
  'EIO',
  'ENOTEMPTY',
  'ENOSYS',
  'EROFS',
  'EBUSY',
  'EAGAIN',
  'EISCONN',
  'E2BIG',
  'EPERM',
  'EQUOTA',
] as const;
export type XsWireErrorName = (typeof XS_ERROR_NAMES)[number];
const errorNameSet = new Set<string>(XS_ERROR_NAMES);
export const isXsErrorName = (s: string): s is XsWireErrorName => errorNameSet.has(s);

export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Buffer;
}

export function encodeMessage(type: number, reqId: number, txId: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(reqId >>> 0, 4);
  out.writeUInt32LE(txId >>> 0, 8);
  out.writeUInt32LE(payload.length, 12);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** Thrown by FrameDecoder when the peer announces more than the protocol allows. */
export class FrameTooLargeError extends Error {
  constructor(readonly announced: number) {
    super(`xenstore frame announces ${announced} payload bytes, more than ${PAYLOAD_MAX}`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Reassembles frames from a byte stream. Each yielded payload is a private copy, so the caller
 * may keep it while the decoder reuses its buffer.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Appends `chunk` and returns every complete frame; throws FrameTooLargeError on an oversized header. */
  push(chunk: Buffer): XsMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: XsMessage[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER_SIZE) {
      const len = this.buf.readUInt32LE(off + 12);
      if (len > PAYLOAD_MAX) throw new FrameTooLargeError(len);
      if (this.buf.length - off < HEADER_SIZE + len) break;
      out.push({
        type: this.buf.readUInt32LE(off),
        reqId: this.buf.readUInt32LE(off + 4),
        txId: this.buf.readUInt32LE(off + 8),
        payload: Buffer.from(this.buf.subarray(off + HEADER_SIZE, off + HEADER_SIZE + len)),
      });
      off += HEADER_SIZE + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
    return out;
  }

  /** Bytes held that do not yet form a frame. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Each string followed by a nul: the `<foo>|*` of the protocol. */
export function joinStrings(parts: readonly (string | Uint8Array)[]): Buffer {
  const bufs: Buffer[] = [];
  for (const p of parts) {
    bufs.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p), Buffer.alloc(1));
  }
  return Buffer.concat(bufs);
}

/**
 * Splits `<foo>|*`: nul-terminated strings. Returns undefined when the payload does not end with a
 * nul (an unterminated last string), so callers can reject it as malformed.
 */
export function splitStrings(payload: Buffer): string[] | undefined {
  if (payload.length === 0) return [];
  if (payload[payload.length - 1] !== 0) return undefined;
  return payload
    .subarray(0, payload.length - 1)
    .toString('utf8')
    .split('\0');
}

/**
 * Splits a request payload the lenient way xenstored reads it: nul-separated, a missing final nul
 * tolerated (libxenstore sends `<path>|<value>` for WRITE with no trailing nul).
 */
export function splitArgs(payload: Buffer): string[] {
  if (payload.length === 0) return [];
  const body = payload[payload.length - 1] === 0 ? payload.subarray(0, payload.length - 1) : payload;
  return body.toString('utf8').split('\0');
}
