// The control ring over a real shared mapping: both ends of io/ring.h's protocol, index wrap at
// 2^32, a full ring, a frontend lying about req_prod, and the notify / req_event rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookie } from '../../src/util/ids.js';
import { BackRing, ringSlotOffset } from '../../src/displif/back-ring.js';
import { FrontRing } from '../../src/displif/front-ring.js';
import { decodeRequest, type Request } from '../../src/displif/requests.js';
import { plainSharedMemory, type SharedMemory } from '../../src/displif/shared-memory.js';
import { readU32, writeU32 } from '../../src/displif/bytes.js';
import { Op, RING_SIZE } from '../../src/displif/constants.js';
import type { DecodedResponse } from '../../src/displif/responses.js';
import { withSharedPage } from './helpers.js';

const REQ_PROD = 0;
const REQ_EVENT = 4;
const RSP_PROD = 8;
const RSP_EVENT = 12;

const flip = (n: number): Request => ({ kind: 'pg-flip', fbCookie: cookie(BigInt(n) + 1n) });

/** Consumes everything the backend sees, decoding each private copy; returns the flip cookies. */
function drain(back: BackRing, budget = RING_SIZE): { cookies: bigint[]; ids: number[]; more: boolean } {
  const cookies: bigint[] = [];
  const ids: number[] = [];
  const out = back.consume(budget, (copy) => {
    const r = decodeRequest(copy, { version: 2 });
    assert.ok(r.ok && r.req.kind === 'pg-flip');
    cookies.push(r.req.fbCookie);
    ids.push(r.id);
  });
  assert.equal(out.kind, 'ok', out.kind === 'violation' ? out.reason : '');
  return { cookies, ids, more: out.kind === 'ok' && out.more };
}

function responses(front: FrontRing): DecodedResponse[] {
  const got: DecodedResponse[] = [];
  const out = front.consumeResponses(RING_SIZE, (r) => got.push(r));
  assert.equal(out.kind, 'ok');
  return got;
}

void test('requests travel, responses come back, and both event indices are re-armed', () => {
  withSharedPage(({ bytes, back: bm, front: fm }) => {
    const front = FrontRing.init(fm);
    const back = new BackRing(bm);
    assert.equal(readU32(bytes, REQ_EVENT), 1);
    assert.equal(readU32(bytes, RSP_EVENT), 1);
    for (let i = 0; i < 3; i++) front.writeRequest(flip(i), 100 + i);
    assert.equal(front.pushRequests(), true, 'first push notifies: req_event 1 lies in (0, 3]');
    const got = drain(back);
    assert.deepEqual(got.ids, [100, 101, 102]);
    assert.deepEqual(got.cookies, [1n, 2n, 3n]);
    assert.equal(got.more, false);
    assert.equal(readU32(bytes, REQ_EVENT), 4, 'RING_FINAL_CHECK_FOR_REQUESTS: req_event = req_cons + 1');
    for (let i = 0; i < 3; i++) back.writeResponse(100 + i, Op.PG_FLIP, 0);
    assert.equal(back.pushResponses(), true);
    assert.deepEqual(
      responses(front).map((r) => r.id),
      [100, 101, 102],
    );
    assert.equal(readU32(bytes, RSP_EVENT), 4, 'frontend re-armed rsp_event');
    // With req_event re-armed, the very next push notifies again: the backend is never left deaf.
    front.writeRequest(flip(3), 103);
    assert.equal(front.pushRequests(), true);
    assert.deepEqual(drain(back).ids, [103]);
    assert.equal(back.respond(103, Op.PG_FLIP, 0), true);
    assert.deepEqual(
      responses(front).map((r) => r.id),
      [103],
    );
  });
});

void test('notifications are suppressed while the other side is known to be busy', () => {
  withSharedPage(({ bytes, back: bm, front: fm }) => {
    const front = FrontRing.init(fm);
    const back = new BackRing(bm);
    front.writeRequest(flip(0), 1);
    front.writeRequest(flip(1), 2);
    assert.equal(front.pushRequests(), true);
    // Budget 1: the backend stops with work left and does not re-arm req_event.
    const first = drain(back, 1);
    assert.deepEqual(first.ids, [1]);
    assert.equal(first.more, true);
    assert.equal(readU32(bytes, REQ_EVENT), 1);
    front.writeRequest(flip(2), 3);
    assert.equal(front.pushRequests(), false, 'backend still busy: no notification needed');
    assert.deepEqual(drain(back).ids, [2, 3]);
    // Responses: the frontend has not re-armed rsp_event since init (1), so after the first push
    // the next ones do not notify until it consumes and re-arms.
    assert.equal(back.respond(1, Op.PG_FLIP, 0), true);
    assert.equal(back.respond(2, Op.PG_FLIP, 0), false);
    assert.deepEqual(
      responses(front).map((r) => r.id),
      [1, 2],
    );
    assert.equal(back.respond(3, Op.PG_FLIP, 0), true);
    assert.equal(back.pushResponses(), false, 'nothing new, nothing to notify');
  });
});

void test('indices wrap at 2^32 without losing or reordering a request', () => {
  withSharedPage(({ bytes, back: bm, front: fm }) => {
    const start = 0xffffffff - 40;
    const front = FrontRing.init(fm, start);
    const back = new BackRing(bm, start);
    let sent = 0;
    let answered = 0;
    for (let round = 0; round < 30; round++) {
      const n = 1 + (round % 7);
      for (let i = 0; i < n; i++) front.writeRequest(flip(sent), sent++ & 0xffff);
      front.pushRequests();
      const got = drain(back);
      assert.deepEqual(
        got.cookies,
        Array.from({ length: n }, (_, i) => BigInt(sent - n + i) + 1n),
      );
      for (const id of got.ids) back.writeResponse(id, Op.PG_FLIP, 0);
      back.pushResponses();
      const rs = responses(front);
      assert.deepEqual(
        rs.map((r) => r.id),
        got.ids,
      );
      answered += rs.length;
    }
    assert.equal(answered, sent);
    const end = (start + sent) >>> 0;
    assert.ok(end < start, 'the run crossed the wrap');
    assert.equal(readU32(bytes, REQ_PROD), end);
    assert.equal(readU32(bytes, RSP_PROD), end);
    assert.equal(
      ringSlotOffset(0xffffffff) + 64 - ringSlotOffset(0),
      32 * 64,
      'slot 31 is followed by slot 0 across the wrap',
    );
  });
});

void test('a full ring: 32 outstanding requests, no more room until one is answered', () => {
  withSharedPage(({ back: bm, front: fm }) => {
    const front = FrontRing.init(fm, 0xfffffff0);
    const back = new BackRing(bm, 0xfffffff0);
    for (let i = 0; i < RING_SIZE; i++) front.writeRequest(flip(i), i);
    assert.equal(front.freeRequests(), 0);
    assert.throws(() => front.writeRequest(flip(99), 99), /full/);
    front.pushRequests();
    assert.equal(drain(back).ids.length, RING_SIZE);
    assert.equal(back.outstanding, RING_SIZE);
    assert.equal(drain(back).ids.length, 0, 'nothing more to read');
    back.respond(0, Op.PG_FLIP, 0);
    assert.equal(responses(front).length, 1);
    assert.equal(front.freeRequests(), 1);
    front.writeRequest(flip(32), 32);
    front.pushRequests();
    assert.deepEqual(drain(back).ids, [32]);
  });
});

void test('a lying req_prod is a sticky violation and no slot is read', () => {
  const cases: Array<[string, (bytes: Uint8Array) => void]> = [
    ['33 ahead of the responses', (b) => writeU32(b, REQ_PROD, readU32(b, REQ_PROD) + 30)],
    ['half the index space ahead', (b) => writeU32(b, REQ_PROD, (readU32(b, REQ_PROD) + 0x80000000) >>> 0)],
    ['moved back behind requests already consumed', (b) => writeU32(b, REQ_PROD, readU32(b, REQ_PROD) - 2)],
    ['one behind the responses', (b) => writeU32(b, REQ_PROD, 0xfffffffc + 1)],
  ];
  for (const [what, lie] of cases) {
    withSharedPage(({ bytes, back: bm, front: fm }) => {
      const front = FrontRing.init(fm, 0xfffffffc);
      const back = new BackRing(bm, 0xfffffffc);
      for (let i = 0; i < 5; i++) front.writeRequest(flip(i), i);
      front.pushRequests();
      assert.equal(drain(back).ids.length, 5);
      back.respond(0, Op.PG_FLIP, 0);
      back.respond(1, Op.PG_FLIP, 0); // rsp_prod_pvt = start + 2, req_cons = start + 5
      lie(bytes);
      let calls = 0;
      const out = back.consume(RING_SIZE, () => calls++);
      assert.equal(out.kind, 'violation', what);
      assert.equal(calls, 0, `${what}: nothing handed on`);
      assert.ok(back.violated);
      writeU32(bytes, REQ_PROD, (0xfffffffc + 6) >>> 0); // even a now-plausible value is not trusted again
      assert.equal(back.consume(RING_SIZE, () => calls++).kind, 'violation');
      assert.equal(calls, 0);
    });
  }
});

void test('each slot is copied out exactly once and the copy is what gets decoded', () => {
  const bytes = new Uint8Array(4096);
  const plain = plainSharedMemory(bytes);
  const copies: number[] = [];
  const counting: SharedMemory = {
    ...plain,
    copyOut: (o, d, dOff, len) => (copies.push(o), plain.copyOut(o, d, dOff, len)),
  };
  const front = FrontRing.init(plainSharedMemory(bytes));
  const back = new BackRing(counting);
  for (let i = 0; i < 6; i++) front.writeRequest(flip(i), i);
  front.pushRequests();
  const seen: bigint[] = [];
  back.consume(RING_SIZE, (copy) => {
    // The guest rewrites the slot while we look at our copy (XSA-155): the copy must not change.
    const slot = ringSlotOffset(back.requestsConsumed - 1);
    bytes.fill(0xff, slot, slot + 64);
    const r = decodeRequest(copy, { version: 2 });
    assert.ok(r.ok && r.req.kind === 'pg-flip');
    seen.push(r.req.fbCookie);
  });
  assert.deepEqual(seen, [1n, 2n, 3n, 4n, 5n, 6n]);
  assert.deepEqual(copies, [0, 1, 2, 3, 4, 5].map(ringSlotOffset));
});

void test('the backend keeps its own rsp_prod: a scribbled shared copy changes nothing it publishes', () => {
  withSharedPage(({ bytes, back: bm, front: fm }) => {
    const front = FrontRing.init(fm);
    const back = new BackRing(bm);
    front.writeRequest(flip(0), 1);
    front.writeRequest(flip(1), 2);
    front.pushRequests();
    drain(back);
    back.respond(1, Op.PG_FLIP, 0);
    writeU32(bytes, RSP_PROD, 12345);
    back.respond(2, Op.PG_FLIP, 0);
    assert.equal(readU32(bytes, RSP_PROD), 2);
  });
});

void test('answering more requests than were consumed is refused', () => {
  withSharedPage(({ back: bm }) => {
    const back = new BackRing(bm);
    assert.throws(() => back.writeResponse(1, Op.PG_FLIP, 0), /no consumed request/);
  });
});

void test('the frontend side refuses a backend that publishes more responses than requests', () => {
  withSharedPage(({ bytes, front: fm }) => {
    const front = FrontRing.init(fm);
    front.writeRequest(flip(0), 1);
    front.pushRequests();
    writeU32(bytes, RSP_PROD, 2);
    assert.equal(front.consumeResponses(RING_SIZE, () => assert.fail('no response may be read')).kind, 'violation');
  });
});
