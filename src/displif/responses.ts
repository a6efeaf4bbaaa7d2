// Responses: one zero-filled 64-byte slot each, echoing the request's id and operation (the Linux
// frontend drops a response whose operation does not match). Zero-filling first means no stale
// byte, ours or the guest's, survives in padding (XSA-216).
import { allZero, readI32, readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { Op, SLOT_SIZE } from './constants.js';
import { RSP } from './wire-layout.js';

export interface Response {
  readonly id: number;
  /** Echo of the request's operation byte, even an unknown one. */
  readonly operation: number;
  /** 0 or a negative Xen errno. */
  readonly status: number;
  /** GET_EDID only: bytes of EDID written into the frontend's buffer. */
  readonly edidSz?: number;
}

/**
 * Writes `r` into the 64 bytes at `dst[offset]`. A positive status is a backend bug (the guest
 * would read it as success-with-garbage), so it throws rather than going on the wire.
 */
export function encodeResponse(dst: Uint8Array, offset: number, r: Response): void {
  writeResponseSlot(dst, offset, r.id, r.operation, r.status, r.edidSz ?? 0);
}

/**
 * encodeResponse with the fields as arguments: the ring's answer path writes straight into the
 * shared slot, with no Response object and no view made per answer. `edidSz` is written for
 * GET_EDID only.
 */
export function writeResponseSlot(
  dst: Uint8Array,
  offset: number,
  id: number,
  operation: number,
  status: number,
  edidSz: number,
): void {
  if (status > 0 || !Number.isInteger(status))
    throw new RangeError(`response status must be 0 or a negative errno, got ${status}`);
  if (!(offset >= 0 && offset + SLOT_SIZE <= dst.length))
    throw new RangeError('encodeResponse: destination shorter than a slot');
  dst.fill(0, offset, offset + SLOT_SIZE);
  writeU16(dst, offset + RSP.id, id);
  dst[offset + RSP.operation] = operation;
  writeU32(dst, offset + RSP.status, status);
  if (operation === Op.GET_EDID) writeU32(dst, offset + RSP.edidSz, edidSz);
}

export interface DecodedResponse {
  readonly id: number;
  readonly operation: number;
  readonly status: number;
  /** 0 unless the operation is GET_EDID. */
  readonly edidSz: number;
  /** Every byte outside the named fields is zero (a frontend can check the backend leaks nothing). */
  readonly reservedZero: boolean;
}

export function decodeResponse(src: Uint8Array, offset = 0): DecodedResponse {
  const b = src.subarray(offset, offset + SLOT_SIZE);
  if (b.length < SLOT_SIZE) throw new RangeError('decodeResponse: source shorter than a slot');
  const operation = b[RSP.operation]!;
  const isEdid = operation === Op.GET_EDID;
  const dataEnd = isEdid ? RSP.edidSz + 4 : RSP.edidSz;
  return {
    id: readU16(b, RSP.id),
    operation,
    status: readI32(b, RSP.status),
    edidSz: isEdid ? readU32(b, RSP.edidSz) : 0,
    reservedZero: b[RSP.operation + 1] === 0 && allZero(b, dataEnd, SLOT_SIZE),
  };
}
