// XenStore fields of a vkbd device. The backend directory holds what libxl wrote from the xl
// config (unique-id, and any feature or size the operator set: trusted, still validated) and what
// vdispld adds (features it serves, pointer and touch geometry). The frontend directory is the
// guest's: its requests, page grant and event channel are parsed as hostile.
import {
  parseEvtchnPort,
  parseGrantRef,
  parseU32,
  parseUniqueId,
  showValue,
  type FieldResult,
} from '../displif/xenstore-fields.js';
import type { EvtchnPort, GrantRef } from '../util/ids.js';
import { KbdField, MT_NUM_CONTACTS } from './constants.js';

export { parseUniqueId };

/** A boolean feature or request: absent is off; otherwise a decimal integer, non-zero meaning on (as Linux reads it). */
export function parseFlag(key: string, value: string | undefined): FieldResult<boolean> {
  if (value === undefined) return { ok: true, value: false };
  const r = parseU32(key, value);
  return r.ok ? { ok: true, value: r.value !== 0 } : r;
}

/** A size in pixels from the toolstack: absent, or 1..65535 (larger makes no sense for a screen). */
export function parseSize(key: string, value: string | undefined): FieldResult<number | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  const r = parseU32(key, value);
  if (!r.ok) return r;
  if (r.value === 0 || r.value > 0xffff)
    return { ok: false, error: `XenStore ${key} = ${showValue(value)}: expected 1..65535` };
  return { ok: true, value: r.value };
}

/** What the operator's xl config put in the backend directory (libxl__set_xenstore_vkb). */
export interface ToolstackVkbd {
  readonly uniqueId: string | undefined;
  readonly disableKeyboard: boolean;
  readonly disablePointer: boolean;
  /** Explicit pointer size; when absent the matching connector's resolution is used. */
  readonly width: number | undefined;
  readonly height: number | undefined;
}

export const TOOLSTACK_KEYS = [
  KbdField.UNIQUE_ID,
  KbdField.FEAT_DSBL_KEYBRD,
  KbdField.FEAT_DSBL_POINTER,
  KbdField.WIDTH,
  KbdField.HEIGHT,
] as const;

/** Validates the toolstack's keys; `read(k)` gives the backend directory's value of k. */
export function parseToolstackVkbd(
  bePath: string,
  read: (key: string) => string | undefined,
): FieldResult<ToolstackVkbd> {
  const k = (f: string): string => `${bePath}/${f}`;
  const id = read(KbdField.UNIQUE_ID);
  const uid = id === undefined ? ({ ok: true, value: undefined } as const) : parseUniqueId(k(KbdField.UNIQUE_ID), id);
  if (!uid.ok) return uid;
  const dk = parseFlag(k(KbdField.FEAT_DSBL_KEYBRD), read(KbdField.FEAT_DSBL_KEYBRD));
  if (!dk.ok) return dk;
  const dp = parseFlag(k(KbdField.FEAT_DSBL_POINTER), read(KbdField.FEAT_DSBL_POINTER));
  if (!dp.ok) return dp;
  const w = parseSize(k(KbdField.WIDTH), read(KbdField.WIDTH));
  if (!w.ok) return w;
  const h = parseSize(k(KbdField.HEIGHT), read(KbdField.HEIGHT));
  if (!h.ok) return h;
  return {
    ok: true,
    value: {
      uniqueId: uid.value,
      disableKeyboard: dk.value,
      disablePointer: dp.value,
      width: w.value,
      height: h.value,
    },
  };
}

/** What vdispld serves, published with InitWait (Linux reads it once, when the guest probes the device). */
export interface ServedFeatures {
  readonly width: number;
  readonly height: number;
  /** Absolute pointer and multi-touch need a screen to be absolute in: a matching connector or a size set by the operator. */
  readonly absolute: boolean;
}

export function formatBackendFields(f: ServedFeatures): Record<string, string> {
  const on = f.absolute ? '1' : '0';
  const out: Record<string, string> = {
    [KbdField.FEAT_ABS_POINTER]: on,
    [KbdField.FEAT_RAW_POINTER]: on,
    [KbdField.FEAT_MTOUCH]: on,
  };
  if (f.absolute) {
    out[KbdField.WIDTH] = String(f.width);
    out[KbdField.HEIGHT] = String(f.height);
    out[KbdField.MT_WIDTH] = String(f.width);
    out[KbdField.MT_HEIGHT] = String(f.height);
    out[KbdField.MT_NUM_CONTACTS] = String(MT_NUM_CONTACTS);
  }
  return out;
}

/** The frontend's side of a connection. */
export interface FrontendVkbd {
  readonly pageGref: GrantRef;
  readonly port: EvtchnPort;
  readonly absPointer: boolean;
  readonly rawPointer: boolean;
  readonly multiTouch: boolean;
}

export const FRONTEND_KEYS = [
  KbdField.RING_GREF,
  KbdField.EVT_CHANNEL,
  KbdField.REQ_ABS_POINTER,
  KbdField.REQ_RAW_POINTER,
  KbdField.REQ_MTOUCH,
  KbdField.RING_REF,
] as const;

/**
 * Validates the frontend's keys. Requests for what we did not offer have no effect (the header's
 * rule); raw is only valid with absolute. A frontend that gives only the obsolete page-ref (a frame
 * number) cannot be served from userspace and is told so.
 */
export function parseFrontendVkbd(
  fePath: string,
  read: (key: string) => string | undefined,
  offered: ServedFeatures,
): FieldResult<FrontendVkbd> {
  const k = (f: string): string => `${fePath}/${f}`;
  if (read(KbdField.RING_GREF) === undefined && read(KbdField.RING_REF) !== undefined) {
    return {
      ok: false,
      error: `XenStore ${k(KbdField.RING_GREF)} is missing (only the obsolete ${KbdField.RING_REF}, which a userspace backend cannot map)`,
    };
  }
  const gref = parseGrantRef(k(KbdField.RING_GREF), read(KbdField.RING_GREF));
  if (!gref.ok) return gref;
  const port = parseEvtchnPort(k(KbdField.EVT_CHANNEL), read(KbdField.EVT_CHANNEL));
  if (!port.ok) return port;
  const abs = parseFlag(k(KbdField.REQ_ABS_POINTER), read(KbdField.REQ_ABS_POINTER));
  if (!abs.ok) return abs;
  const raw = parseFlag(k(KbdField.REQ_RAW_POINTER), read(KbdField.REQ_RAW_POINTER));
  if (!raw.ok) return raw;
  const mt = parseFlag(k(KbdField.REQ_MTOUCH), read(KbdField.REQ_MTOUCH));
  if (!mt.ok) return mt;
  const absPointer = abs.value && offered.absolute;
  return {
    ok: true,
    value: {
      pageGref: gref.value,
      port: port.value,
      absPointer,
      rawPointer: raw.value && absPointer,
      multiTouch: mt.value && offered.absolute,
    },
  };
}
