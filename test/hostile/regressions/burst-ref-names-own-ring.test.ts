// Found by the request campaign (seed 0x5eed, about 250,000 requests into hostile guest 1): 32
// requests "unanswered while connected", then the guest's own "ring full". The daemon had answered
// every one (rsp_prod == req_prod) but the guest's rsp_event read 969, a dom0 grant ref. The
// generator's "never granted" ref was 8, the guest's first ref: device 0's control ring page. Sent
// as the directory of a be-alloc DBUF_CREATE on device 1, it made the backend do what the protocol
// says, write the new buffer's refs into gref[] of that page, which over a ring page is req_event,
// rsp_prod and rsp_event. With rsp_event far behind, the backend correctly stopped notifying, and
// the guest never re-armed it. A guest harming itself, counted as the daemon's fault: the fix is in
// the generator, whose "never granted" refs now exclude every ref the guest has granted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackRing } from '../../../src/displif/back-ring.js';
import { Op, PAGE_SIZE, SLOT_SIZE } from '../../../src/displif/constants.js';
import { readU32 } from '../../../src/displif/bytes.js';
import { FrontRing } from '../../../src/displif/front-ring.js';
import { fillPageDirectory } from '../../../src/displif/page-directory.js';
import { plainSharedMemory } from '../../../src/displif/shared-memory.js';
import { REQ, SRING } from '../../../src/displif/wire-layout.js';
import { grantRef } from '../../../src/util/ids.js';
import { hostileSlot, type HostileRequestContext } from '../../../src/sim/frontend/hostile-requests.js';
import { prng } from '../../../src/sim/frontend/hostile.js';

/** The guest's ring and event pages: the first refs it allocates (8 is the first after the reserved ones). */
const LIVE_PAGES = new Set([8, 9, 10, 11, 12, 13]);

/** Directory refs named by `draws` slots of DBUF_CREATE and GET_EDID. */
function directoryRefs(draws: number, isGranted?: (ref: number) => boolean): number[] {
  const ctx: HostileRequestContext = {
    rand: prng(0x5eed),
    connectors: [{ width: 128, height: 96 }],
    conn: 0,
    liveDbufs: [],
    liveFbs: [],
    grantedRefs: [100, 101, 102],
    readOnlyRefs: [103],
    directories: [{ ref: 100, pages: 1 }],
    ...(isGranted ? { isGranted } : {}),
  };
  const refs: number[] = [];
  for (let i = 0; i < draws; i++) {
    const { slot, operation } = hostileSlot(ctx);
    if (operation === Op.DBUF_CREATE) refs.push(readU32(slot, REQ.dbufCreate.grefDirectory));
    else if (operation === Op.GET_EDID) refs.push(readU32(slot, REQ.getEdid.grefDirectory));
  }
  return refs;
}

void test('the mechanism: a be-alloc directory written over a ring page leaves rsp_event behind, so no notification comes', async () => {
  const mem = plainSharedMemory(new Uint8Array(PAGE_SIZE));
  const front = FrontRing.init(mem);
  const back = new BackRing(mem);
  const raw = new Uint8Array(SLOT_SIZE);
  raw[2] = Op.DBUF_DESTROY;
  const oneRoundTrip = (): boolean => {
    front.writeRawRequest(raw);
    front.pushRequests();
    back.consume(1, () => undefined);
    const notify = back.respond(0, Op.DBUF_DESTROY, 0);
    front.consumeResponses(32, () => undefined);
    return notify;
  };
  assert.equal(oneRoundTrip(), true, 'a healthy ring notifies');
  // What the backend does for DBUF_CREATE with REQ_ALLOC whose directory ref is this page.
  await fillPageDirectory(grantRef(8), [967, 968, 969].map(grantRef), () => mem.bytes);
  assert.equal(mem.load32Acquire(SRING.rsp_event), 969, 'gref[2] is rsp_event');
  assert.equal(oneRoundTrip(), false, 'the answer is published but never notified');
});

void test('without the check, the generator names the ring page as a "never granted" directory', () => {
  // The shape of the finding, so the test below is known to be able to fail.
  assert.ok(directoryRefs(20_000).some((r) => r === 8));
});

void test("refs drawn as never granted are never one of the guest's granted pages", () => {
  const isGranted = (ref: number): boolean => LIVE_PAGES.has(ref) || (ref >= 100 && ref <= 103);
  const refs = directoryRefs(20_000, isGranted);
  assert.ok(refs.length > 1000, 'enough directory refs were drawn');
  assert.deepEqual(
    refs.filter((r) => LIVE_PAGES.has(r)),
    [],
    'no ring or event page named',
  );
  // The pool's refs (granted on purpose for these attacks) are still used, and so are extremes.
  assert.ok(refs.some((r) => r === 100));
  assert.ok(refs.some((r) => r === 0xffffffff));
  assert.ok(
    refs.some((r) => r > 103 && r < 0xffff && !isGranted(r)),
    'refs that were never granted are still drawn',
  );
});
