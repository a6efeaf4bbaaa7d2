// Fuzz targets over the pure protocol code (src/displif, src/kbdif). Each takes the fuzzer's bytes,
// drives the code the guest controls, and throws only when a property breaks: a decoder threw, a
// failure did not echo id and operation, an accepted request did not survive re-encoding, the ring
// handed out more than it holds or forgot a violation, an event producer overwrote an unconsumed
// event or lost count of one, a directory walk returned the wrong refs, a XenStore parser accepted
// what it must not.
import type * as BackRingM from '../src/displif/back-ring.js';
import type * as EventPageM from '../src/displif/event-page.js';
import type * as PageDirM from '../src/displif/page-directory.js';
import type * as RequestsM from '../src/displif/requests.js';
import type * as SharedM from '../src/displif/shared-memory.js';
import type * as FieldsM from '../src/displif/xenstore-fields.js';
import type * as ConstM from '../src/displif/constants.js';
import type * as KbdConstM from '../src/kbdif/constants.js';
import type * as KbdEventsM from '../src/kbdif/events.js';
import type * as KbdPageM from '../src/kbdif/shared-page.js';
import type * as KbdFieldsM from '../src/kbdif/xenstore-fields.js';
import type { KbdEvent } from '../src/kbdif/events.js';
import type { InstrumentedDisplif } from './instrument.js';
import type { Cookie } from '../src/util/ids.js';

export interface Modules {
  readonly requests: typeof RequestsM;
  readonly backRing: typeof BackRingM;
  readonly eventPage: typeof EventPageM;
  readonly pageDir: typeof PageDirM;
  readonly shared: typeof SharedM;
  readonly fields: typeof FieldsM;
  readonly constants: typeof ConstM;
  readonly kbdConstants: typeof KbdConstM;
  readonly kbdEvents: typeof KbdEventsM;
  readonly kbdPage: typeof KbdPageM;
  readonly kbdFields: typeof KbdFieldsM;
}

export async function loadModules(code: InstrumentedDisplif): Promise<Modules> {
  return {
    requests: await code.load('requests'),
    backRing: await code.load('back-ring'),
    eventPage: await code.load('event-page'),
    pageDir: await code.load('page-directory'),
    shared: await code.load('shared-memory'),
    fields: await code.load('xenstore-fields'),
    constants: await code.load('constants'),
    kbdConstants: await code.load('kbdif/constants'),
    kbdEvents: await code.load('kbdif/events'),
    kbdPage: await code.load('kbdif/shared-page'),
    kbdFields: await code.load('kbdif/xenstore-fields'),
  };
}

export class PropertyBroken extends Error {
  override name = 'PropertyBroken';
}

function must(ok: boolean, what: string): void {
  if (!ok) throw new PropertyBroken(what);
}

const u32 = (d: Uint8Array, o: number): number =>
  ((d[o] ?? 0) | ((d[o + 1] ?? 0) << 8) | ((d[o + 2] ?? 0) << 16) | ((d[o + 3] ?? 0) << 24)) >>> 0;
const json = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export type Target = (data: Uint8Array, m: Modules) => void;

/** One 64-byte slot (the first byte picks the version): decode, and check what came out. */
const requests: Target = (data, m) => {
  const slot = new Uint8Array(64);
  slot.set(data.subarray(1, 65));
  const version = (data[0] ?? 0) & 1 ? 2 : 1;
  const conn = ((data[0] ?? 0) >> 1) & 3;
  const r = m.requests.decodeRequest(slot, { version, connector: conn });
  const id = slot[0]! | (slot[1]! << 8);
  must(r.id === id && r.operation === slot[2], `id/operation not echoed: ${json(r)}`);
  if (!r.ok) {
    must(r.errno < 0 && [-22, -38, -7].includes(r.errno), `unexpected errno ${r.errno}`);
    return;
  }
  const again = new Uint8Array(64);
  m.requests.encodeRequest(r.req, r.id, again);
  const back = m.requests.decodeRequest(again, { version, connector: conn });
  must(back.ok && json(back.req) === json(r.req), `request does not survive re-encoding: ${json(r.req)}`);
  if (r.req.kind === 'dbuf-create')
    must(
      m.requests.bufferPageCount(r.req.bufferSz) <= m.constants.GNTDEV_MAX_REFS,
      'buffer larger than a grant map accepted',
    );
};

/** A ring page with guest-chosen indices and slots, consumed in budgets, answered, lied to again. */
const backRing: Target = (data, m) => {
  const page = new Uint8Array(4096);
  page.set(data.subarray(0, 4096));
  const mem = m.shared.plainSharedMemory(page);
  const start = u32(data, 4096);
  const ring = new m.backRing.BackRing(mem, start);
  let violated = false;
  for (let round = 0; round < 4; round++) {
    // The guest moves req_prod between rounds.
    if (round > 0) mem.store32Release(0, u32(data, 4096 + 4 * round));
    const budget = 1 + ((data[4112 + round] ?? 31) & 31);
    let seen = 0;
    const out = ring.consume(budget, () => void seen++);
    must(seen === out.consumed && seen <= budget, `consumed ${seen} with budget ${budget}`);
    must(ring.outstanding <= m.constants.RING_SIZE, `${ring.outstanding} outstanding, more than the ring`);
    if (out.kind === 'violation') violated = true;
    else must(!violated, 'a violation was forgotten');
    while (ring.outstanding > 0) ring.respond(1, 0x10, 0);
  }
};

/** Events produced while the guest's in_cons jumps around: never more than the page holds past the in_cons read. */
const eventPage: Target = (data, m) => {
  const page = new Uint8Array(4096);
  const mem = m.shared.plainSharedMemory(page);
  const start = u32(data, 0);
  mem.store32Release(0, start);
  mem.store32Release(4, start);
  const prod = new m.eventPage.EventProducer(mem, { startIndex: start, queueLimit: 8 });
  let consumed = start;
  for (let i = 4; i + 1 < data.length && i < 400; i += 2) {
    const op = data[i]! & 3;
    const inCons = u32(page, 0);
    const before = u32(page, 4);
    if (op === 0) prod.pgFlip(BigInt(i) as Cookie);
    else if (op === 1) prod.flush();
    else if (op === 2) {
      // An honest consumer step.
      const take = Math.min((before - consumed) >>> 0, data[i + 1]! & 7);
      consumed = (consumed + take) >>> 0;
      mem.store32Release(0, consumed);
    } else mem.store32Release(0, u32(data, i) ^ (data[i + 1]! << 3)); // a lie
    const after = u32(page, 4);
    // The producer reads in_cons once per call and fills at most the slots that leaves free.
    if (after !== before)
      must(
        (after - inCons) >>> 0 <= m.constants.EVT_RING_LEN,
        `wrote up to ${(after - inCons) >>> 0} past in_cons ${inCons}`,
      );
    must(prod.stats.backlog <= 8, `backlog ${prod.stats.backlog} beyond its limit`);
  }
};

/** A directory chain over guest-written pages: exactly n non-zero refs, or a PageDirectoryError. */
const pageDirectory: Target = (data, m) => {
  const pages = new Map<number, Uint8Array>();
  const count = 1 + ((data[0] ?? 0) & 3);
  for (let p = 0; p < count; p++) {
    const b = new Uint8Array(4096);
    b.set(data.subarray(8 + p * 256, 8 + (p + 1) * 256));
    // Refs 1..count name the pages; the guest may link them any way it likes.
    pages.set(p + 1, b);
  }
  const nRefs = (u32(data, 4) % 2200) + ((data[1] ?? 0) & 1 ? 0 : 1);
  const first = (data[2] ?? 1) % (count + 2);
  try {
    const refs = m.pageDir.walkPageDirectorySync(first as never, nRefs, (ref) => pages.get(ref) ?? new Uint8Array(0));
    must(refs.length === nRefs && refs.every((r) => r !== 0), `walk returned ${refs.length} refs for ${nRefs}`);
  } catch (err) {
    if (!(err instanceof m.pageDir.PageDirectoryError)) throw err;
    must(err.errno > 0 && m.constants.isXenErrno(err.errno), `errno ${err.errno} is no positive Xen errno`);
  }
};

/** Guest-written XenStore values through every parser: no throw, accepted values in range. */
const xenstoreFields: Target = (data, m) => {
  const s = Buffer.from(data).toString('latin1');
  const F = m.fields;
  const ref = F.parseGrantRef('k', s);
  if (ref.ok) must(ref.value > 0 && ref.value <= 0xffffffff, `grant ref ${json(s)} accepted as ${ref.value}`);
  const port = F.parseEvtchnPort('k', s);
  if (port.ok) must(port.value > 0 && port.value <= m.constants.EVTCHN_MAX_PORT, `port ${json(s)} accepted`);
  const res = F.parseResolution('k', s);
  if (res.ok)
    must(
      res.value.width > 0 && res.value.width <= 4095 && res.value.height > 0 && res.value.height <= 2047,
      `resolution ${json(s)}`,
    );
  const st = F.parseXenbusState('k', s);
  if (st.ok) must(st.value >= 0 && st.value <= 8, `state ${json(s)}`);
  const v = F.parseVersion('k', s);
  if (v.ok) must(v.value === 1 || v.value === 2, `version ${json(s)}`);
  F.parseBeAlloc('k', s);
  F.parseUniqueId('k', s);
  F.parseVersions('k', s);
  must(F.showValue(s).length < 200, 'showValue does not bound its output');
};

/** struct xenkbd_page: in_cons, in_prod, out_cons, out_prod (kbdif.h). */
const KBD_IN_CONS = 0;
const KBD_IN_PROD = 4;
const KBD_OUT_PROD = 12;

/** An input event the backend could send, made from 9 bytes (every kind, edge values included). */
function kbdEventFrom(d: Uint8Array, o: number): KbdEvent {
  const k = (d[o] ?? 0) % 6;
  const a = u32(d, o + 1) | 0;
  const b = u32(d, o + 5) | 0;
  switch (k) {
    case 0:
      return { kind: 'key', keycode: a >>> 0, pressed: (b & 1) === 1 };
    case 1:
      return { kind: 'motion', relX: a, relY: b, relZ: 0 };
    case 2:
      return { kind: 'pos', absX: a, absY: b, relZ: (d[o] ?? 0) & 0x80 ? -1 : 0 };
    case 3:
      return { kind: 'mt-down', contact: a & 0xff, absX: a >> 8, absY: b };
    case 4:
      return { kind: 'mt-up', contact: a & 0xff };
    default:
      return { kind: 'mt-syn', contact: 0 };
  }
}

/**
 * The vkbd shared page under a frontend that lies: in_cons jumps anywhere (a reconnect finds any
 * indices), out_prod moves (the protocol has no out events), while the backend sends and flushes
 * with a small queue. The producer must never write a slot past the in_cons it read plus the ring,
 * never write the frontend's indices, report a moved out_prod at its next call, keep its backlog
 * within the limit, and account for every event it was given (written + waiting + merged +
 * dropped). While the frontend is honest, every slot it consumes decodes to an event.
 */
const kbdPage: Target = (data, m) => {
  const C = m.kbdConstants;
  const page = new Uint8Array(4096);
  const mem = m.shared.plainSharedMemory(page);
  mem.store32Release(KBD_IN_CONS, u32(data, 0));
  mem.store32Release(KBD_IN_PROD, u32(data, 4));
  mem.store32Release(KBD_OUT_PROD, (data[8] ?? 0) & 1 ? u32(data, 8) : 0);
  const limit = 1 + ((data[12] ?? 0) & 15);
  const prod = new m.kbdPage.InRingProducer(mem, limit);
  const outBase = mem.load32Acquire(KBD_OUT_PROD);
  let consumed = mem.load32Acquire(KBD_IN_CONS);
  let honest = true;
  let given = 0;
  for (let i = 16; i + 9 < data.length && i < 1200; i += 10) {
    const op = data[i]! & 7;
    const inCons = mem.load32Acquire(KBD_IN_CONS);
    const outProd = mem.load32Acquire(KBD_OUT_PROD);
    const before = mem.load32Acquire(KBD_IN_PROD);
    let r: { notify: boolean; violation?: string } | undefined;
    if (op <= 2) {
      const n = 1 + (data[i + 1]! % 24);
      const events = Array.from({ length: n }, (_, j) => kbdEventFrom(data, i + 1 + (j % 8)));
      given += n;
      r = prod.send(events);
    } else if (op === 3) r = prod.flush();
    else if (op === 4 && honest) {
      // An honest consumer step, as Linux's input handler: read what is there, then in_cons.
      const take = Math.min((before - consumed) >>> 0, data[i + 1]! & 63);
      for (let j = 0; j < take; j++) {
        const ev = m.kbdEvents.decodeEvent(page, m.kbdPage.inSlotOffset(consumed + j));
        must(ev.kind !== 'unknown', `slot ${consumed + j} holds no event: ${json(ev)}`);
      }
      consumed = (consumed + take) >>> 0;
      mem.store32Release(KBD_IN_CONS, consumed);
    } else if (op === 5) {
      honest = false;
      mem.store32Release(KBD_IN_CONS, u32(data, i + 1));
    } else if (op === 6) mem.store32Release(KBD_OUT_PROD, u32(data, i + 1));
    if (r === undefined) continue;
    must(mem.load32Acquire(KBD_IN_CONS) === inCons, 'the producer wrote in_cons');
    must(mem.load32Acquire(KBD_OUT_PROD) === outProd, 'the producer wrote out_prod');
    if (outProd !== outBase) must(r.violation !== undefined, `out_prod ${outProd} (was ${outBase}) not reported`);
    if (r.violation !== undefined) return; // the device is closed: nothing more is written
    const after = mem.load32Acquire(KBD_IN_PROD);
    if (after !== before)
      must((after - inCons) >>> 0 <= C.IN_RING_LEN, `wrote up to ${(after - inCons) >>> 0} past in_cons ${inCons}`);
    const st = prod.stats;
    must(st.backlog <= limit, `backlog ${st.backlog} beyond its limit ${limit}`);
    must(
      st.written + st.backlog + st.coalesced + st.dropped === given,
      `lost count: ${json(st)} for ${given} events given`,
    );
  }
};

/**
 * The vkbd's XenStore values (the guest's requests, page and port; the toolstack's keys) through
 * their parsers, and any 40 bytes through the event decoder: nothing throws, what is accepted is in
 * range and what was not offered is not granted, and every decoded event encodes back to itself.
 */
const kbdFields: Target = (data, m) => {
  const F = m.kbdFields;
  const values = Buffer.from(data.subarray(41)).toString('latin1').split('\0');
  const keys = [...F.FRONTEND_KEYS, ...F.TOOLSTACK_KEYS];
  // A value byte of 0x01 alone means the key is absent.
  const read = (k: string): string | undefined => {
    const v = values[keys.indexOf(k as never)];
    return v === undefined || v === '\x01' ? undefined : v;
  };
  const absolute = ((data[0] ?? 0) & 1) === 1;
  const offered = absolute ? { width: 640, height: 480, absolute } : { width: 0, height: 0, absolute };
  const fe = F.parseFrontendVkbd('fe', read, offered);
  if (fe.ok) {
    const v = fe.value;
    must(v.pageGref > 0 && v.pageGref <= 0xffffffff, `page-gref accepted as ${v.pageGref}`);
    must(v.port > 0 && v.port <= m.constants.EVTCHN_MAX_PORT, `event-channel accepted as ${v.port}`);
    must(!v.rawPointer || v.absPointer, 'raw pointer granted without absolute');
    must(absolute || (!v.absPointer && !v.multiTouch), `granted what was not offered: ${json(v)}`);
  } else must(fe.error.length < 400, 'error line not bounded');
  const ts = F.parseToolstackVkbd('be', read);
  if (ts.ok)
    for (const n of [ts.value.width, ts.value.height])
      must(n === undefined || (n >= 1 && n <= 0xffff), `toolstack size accepted as ${n}`);
  const slot = new Uint8Array(40);
  slot.set(data.subarray(1, 41));
  const ev = m.kbdEvents.decodeEvent(slot);
  if (ev.kind === 'unknown') return;
  const again = new Uint8Array(40).fill(0xa5);
  try {
    m.kbdEvents.encodeEvent(ev, again);
  } catch (err) {
    // Only an orientation outside [-180, 180] cannot be sent; the slot is left as it was.
    must(err instanceof RangeError && ev.kind === 'mt-orient', `decoded ${json(ev)} does not encode: ${String(err)}`);
    must(
      again.every((b) => b === 0xa5),
      'a refused event changed the slot',
    );
    return;
  }
  must(json(m.kbdEvents.decodeEvent(again)) === json(ev), `${json(ev)} does not survive re-encoding`);
};

export const TARGETS: Readonly<Record<string, Target>> = {
  requests,
  'back-ring': backRing,
  'event-page': eventPage,
  'page-directory': pageDirectory,
  'xenstore-fields': xenstoreFields,
  'kbd-page': kbdPage,
  'kbd-fields': kbdFields,
};
