// Events (backend to frontend, on the event page): zero-filled 64-byte slots. The only event the
// protocol defines is PG_FLIP, the completion of a page flip.
import type { Cookie } from '../util/ids.js';
import { allZero, readU16, readU64, writeU16, writeU64 } from './bytes.js';
import { EvtType, SLOT_SIZE } from './constants.js';
import { EVT } from './wire-layout.js';

export interface PgFlipEvent {
  readonly type: typeof EvtType.PG_FLIP;
  /** Sequence number per connector: 0, 1, 2, ... from connect, wrapping at 16 bits. */
  readonly id: number;
  readonly fbCookie: Cookie;
}

export type DisplifEvent = PgFlipEvent;

export function encodeEvent(dst: Uint8Array, offset: number, e: DisplifEvent): void {
  writePgFlipEventSlot(dst, offset, e.id, e.fbCookie);
}

/** encodeEvent for PG_FLIP with the fields as arguments: no event object, no view per event. */
export function writePgFlipEventSlot(dst: Uint8Array, offset: number, id: number, fbCookie: Cookie): void {
  if (!(offset >= 0 && offset + SLOT_SIZE <= dst.length))
    throw new RangeError('encodeEvent: destination shorter than a slot');
  dst.fill(0, offset, offset + SLOT_SIZE);
  writeU16(dst, offset + EVT.id, id);
  dst[offset + EVT.type] = EvtType.PG_FLIP;
  writeU64(dst, offset + EVT.pgFlipFbCookie, fbCookie);
}

export type DecodedEvent =
  | (PgFlipEvent & { readonly reservedZero: boolean })
  | { readonly type: 'unknown'; readonly rawType: number; readonly id: number };

/** For the frontend side: what the Linux driver would see in a slot. */
export function decodeEvent(src: Uint8Array, offset = 0): DecodedEvent {
  const b = src.subarray(offset, offset + SLOT_SIZE);
  if (b.length < SLOT_SIZE) throw new RangeError('decodeEvent: source shorter than a slot');
  const id = readU16(b, EVT.id);
  const type = b[EVT.type]!;
  if (type !== EvtType.PG_FLIP) return { type: 'unknown', rawType: type, id };
  return {
    type: EvtType.PG_FLIP,
    id,
    fbCookie: readU64(b, EVT.pgFlipFbCookie) as Cookie,
    reservedZero: allZero(b, EVT.reserved, EVT.pgFlipFbCookie) && allZero(b, EVT.pgFlipEnd, SLOT_SIZE),
  };
}
