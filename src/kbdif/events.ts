// The in-ring's events (backend to frontend) as a closed union, and their 40-byte encoding. The
// encoder writes every byte of the slot (reserved ones zero, as the header requires) and refuses a
// value its field cannot hold, so a bad coordinate is a bug found here, not a wrapped number in a
// guest. The decoder is the frontend's view (the simulator's guests and the tests use it): an
// unknown type is reported as such, since frontends must ignore unknown events.
import { readI32, readU32, writeU16, writeU32 } from '../displif/bytes.js';
import { EventType, IN_EVENT_SIZE, MtEvent } from './constants.js';
import { EV } from './wire-layout.js';

export type KbdEvent =
  | { readonly kind: 'motion'; readonly relX: number; readonly relY: number; readonly relZ: number }
  | { readonly kind: 'key'; readonly keycode: number; readonly pressed: boolean }
  | { readonly kind: 'pos'; readonly absX: number; readonly absY: number; readonly relZ: number }
  | { readonly kind: 'mt-down' | 'mt-motion'; readonly contact: number; readonly absX: number; readonly absY: number }
  | { readonly kind: 'mt-up' | 'mt-syn'; readonly contact: number }
  | { readonly kind: 'mt-shape'; readonly contact: number; readonly major: number; readonly minor: number }
  | { readonly kind: 'mt-orient'; readonly contact: number; readonly orientation: number };

export type DecodedKbdEvent = KbdEvent | { readonly kind: 'unknown'; readonly type: number; readonly subtype: number };

const MT_KIND = {
  'mt-down': MtEvent.DOWN,
  'mt-up': MtEvent.UP,
  'mt-motion': MtEvent.MOTION,
  'mt-syn': MtEvent.SYN,
  'mt-shape': MtEvent.SHAPE,
  'mt-orient': MtEvent.ORIENT,
} as const;

function i32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`${what} ${v} is not an int32`);
  return v >>> 0;
}

function u32(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what} ${v} is not a uint32`);
  return v;
}

function u8(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${what} ${v} is not a uint8`);
  return v;
}

/** Writes `ev` into the 40 bytes at `offset` of `dst` (a private buffer or the mapped ring). */
export function encodeEvent(ev: KbdEvent, dst: Uint8Array, offset = 0): void {
  if (offset < 0 || offset + IN_EVENT_SIZE > dst.length) throw new RangeError('event slot outside the buffer');
  const s = dst.subarray(offset, offset + IN_EVENT_SIZE);
  // Validate before the first store: a refused event leaves the slot as it was.
  switch (ev.kind) {
    case 'motion': {
      const x = i32('rel_x', ev.relX);
      const y = i32('rel_y', ev.relY);
      const z = i32('rel_z', ev.relZ);
      s.fill(0);
      s[EV.type] = EventType.MOTION;
      writeU32(s, EV.motion.relX, x);
      writeU32(s, EV.motion.relY, y);
      writeU32(s, EV.motion.relZ, z);
      return;
    }
    case 'key': {
      const code = u32('keycode', ev.keycode);
      s.fill(0);
      s[EV.type] = EventType.KEY;
      s[EV.key.pressed] = ev.pressed ? 1 : 0;
      writeU32(s, EV.key.keycode, code);
      return;
    }
    case 'pos': {
      const x = i32('abs_x', ev.absX);
      const y = i32('abs_y', ev.absY);
      const z = i32('rel_z', ev.relZ);
      s.fill(0);
      s[EV.type] = EventType.POS;
      writeU32(s, EV.pos.absX, x);
      writeU32(s, EV.pos.absY, y);
      writeU32(s, EV.pos.relZ, z);
      return;
    }
    default: {
      const contact = u8('contact_id', ev.contact);
      let a = 0;
      let b = 0;
      let orient: number | undefined;
      if (ev.kind === 'mt-down' || ev.kind === 'mt-motion') {
        a = i32('abs_x', ev.absX);
        b = i32('abs_y', ev.absY);
      } else if (ev.kind === 'mt-shape') {
        a = u32('major', ev.major);
        b = u32('minor', ev.minor);
      } else if (ev.kind === 'mt-orient') {
        if (!Number.isInteger(ev.orientation) || ev.orientation < -180 || ev.orientation > 180) {
          throw new RangeError(`orientation ${ev.orientation} is outside [-180, 180]`);
        }
        orient = ev.orientation & 0xffff;
      }
      s.fill(0);
      s[EV.type] = EventType.MTOUCH;
      s[EV.mtouch.eventType] = MT_KIND[ev.kind];
      s[EV.mtouch.contactId] = contact;
      if (orient !== undefined) writeU16(s, EV.mtouch.orientation, orient);
      else if (ev.kind !== 'mt-up' && ev.kind !== 'mt-syn') {
        writeU32(s, EV.mtouch.absX, a);
        writeU32(s, EV.mtouch.absY, b);
      }
    }
  }
}

/** Reads the 40 bytes at `offset` as the Linux frontend would. Never throws on content. */
export function decodeEvent(src: Uint8Array, offset = 0): DecodedKbdEvent {
  const s = src.subarray(offset, offset + IN_EVENT_SIZE);
  if (s.length !== IN_EVENT_SIZE) throw new RangeError('event slot outside the buffer');
  const type = s[EV.type]!;
  switch (type) {
    case EventType.MOTION:
      return {
        kind: 'motion',
        relX: readI32(s, EV.motion.relX),
        relY: readI32(s, EV.motion.relY),
        relZ: readI32(s, EV.motion.relZ),
      };
    case EventType.KEY:
      return { kind: 'key', keycode: readU32(s, EV.key.keycode), pressed: s[EV.key.pressed] !== 0 };
    case EventType.POS:
      return {
        kind: 'pos',
        absX: readI32(s, EV.pos.absX),
        absY: readI32(s, EV.pos.absY),
        relZ: readI32(s, EV.pos.relZ),
      };
    case EventType.MTOUCH: {
      const sub = s[EV.mtouch.eventType]!;
      const contact = s[EV.mtouch.contactId]!;
      switch (sub) {
        case MtEvent.DOWN:
          return { kind: 'mt-down', contact, absX: readI32(s, EV.mtouch.absX), absY: readI32(s, EV.mtouch.absY) };
        case MtEvent.MOTION:
          return { kind: 'mt-motion', contact, absX: readI32(s, EV.mtouch.absX), absY: readI32(s, EV.mtouch.absY) };
        case MtEvent.UP:
          return { kind: 'mt-up', contact };
        case MtEvent.SYN:
          return { kind: 'mt-syn', contact };
        case MtEvent.SHAPE:
          return { kind: 'mt-shape', contact, major: readU32(s, EV.mtouch.major), minor: readU32(s, EV.mtouch.minor) };
        case MtEvent.ORIENT: {
          const o = s[EV.mtouch.orientation]! | (s[EV.mtouch.orientation + 1]! << 8);
          return { kind: 'mt-orient', contact, orientation: (o << 16) >> 16 };
        }
        default:
          return { kind: 'unknown', type, subtype: sub };
      }
    }
    default:
      return { kind: 'unknown', type, subtype: 0 };
  }
}
