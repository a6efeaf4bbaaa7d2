// Fuzz targets over the pure decoders of src/displif. Each takes the fuzzer's bytes, drives the
// code the guest controls, and throws only when a property breaks: a decoder threw, a failure did
// not echo id and operation, an accepted request did not survive re-encoding, the ring handed out
// more than it holds or forgot a violation, the event producer overwrote an unconsumed event, a
// directory walk returned the wrong refs, a XenStore parser accepted what it must not.
import type * as BackRingM from '../src/displif/back-ring.js';
import type * as EventPageM from '../src/displif/event-page.js';
import type * as PageDirM from '../src/displif/page-directory.js';
import type * as RequestsM from '../src/displif/requests.js';
import type * as SharedM from '../src/displif/shared-memory.js';
import type * as FieldsM from '../src/displif/xenstore-fields.js';
import type * as ConstM from '../src/displif/constants.js';
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

export const TARGETS: Readonly<Record<string, Target>> = {
  requests,
  'back-ring': backRing,
  'event-page': eventPage,
  'page-directory': pageDirectory,
  'xenstore-fields': xenstoreFields,
};
