// The event page over a real shared mapping: ids 0,1,2..., a full page that queues without
// blocking, a bounded queue that counts drops, a frontend lying about in_cons, a private in_prod,
// and the index wrap at 2^32 where idx % 63 jumps back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookie } from '../../src/util/ids.js';
import { EventConsumer, EventProducer, eventSlotOffset } from '../../src/displif/event-page.js';
import type { DecodedEvent } from '../../src/displif/events.js';
import { readU32, writeU32 } from '../../src/displif/bytes.js';
import { EVT_RING_LEN, EvtType } from '../../src/displif/constants.js';
import { withSharedPage } from './helpers.js';
import { plainSharedMemory } from '../../src/displif/shared-memory.js';
import { prng } from '../../src/sim/frontend/hostile.js';

const IN_CONS = 0;
const IN_PROD = 4;

function take(consumer: EventConsumer): Array<{ id: number; cookie: bigint }> {
  const got: DecodedEvent[] = [];
  const out = consumer.consume((e) => got.push(e));
  assert.equal(out.kind, 'ok');
  return got.map((e) => {
    assert.equal(e.type, EvtType.PG_FLIP);
    return { id: e.id, cookie: e.type === EvtType.PG_FLIP ? e.fbCookie : -1n };
  });
}

void test('events carry ids 0, 1, 2, ... and every write asks for a notification', () => {
  withSharedPage(({ bytes, back, front }) => {
    const consumer = EventConsumer.init(front);
    const producer = new EventProducer(back);
    for (let i = 0; i < 5; i++) {
      const out = producer.pgFlip(cookie(BigInt(i) + 10n));
      assert.deepEqual(out, { written: 1, notify: true, queued: false, dropped: false, frontendLied: false });
    }
    assert.equal(readU32(bytes, IN_PROD), 5);
    assert.deepEqual(
      take(consumer),
      [0, 1, 2, 3, 4].map((i) => ({ id: i, cookie: BigInt(i) + 10n })),
    );
    assert.equal(readU32(bytes, IN_CONS), 5);
  });
});

void test('a full page queues events without blocking, and flush delivers them in order', () => {
  withSharedPage(({ back, front }) => {
    const consumer = EventConsumer.init(front);
    const producer = new EventProducer(back);
    for (let i = 0; i < EVT_RING_LEN; i++) assert.equal(producer.pgFlip(cookie(BigInt(i + 1))).written, 1);
    const q1 = producer.pgFlip(cookie(1000n));
    assert.deepEqual(q1, { written: 0, notify: false, queued: true, dropped: false, frontendLied: false });
    producer.pgFlip(cookie(1001n));
    assert.equal(producer.backlog, 2);
    assert.equal(producer.flush().written, 0, 'still full');
    const first = take(consumer);
    assert.equal(first.length, EVT_RING_LEN);
    assert.deepEqual(
      first.map((e) => e.id),
      Array.from({ length: EVT_RING_LEN }, (_, i) => i),
    );
    // A new event goes behind the queued ones.
    const out = producer.pgFlip(cookie(1002n));
    assert.equal(out.written, 3);
    assert.equal(out.notify, true);
    assert.deepEqual(take(consumer), [
      { id: 63, cookie: 1000n },
      { id: 64, cookie: 1001n },
      { id: 65, cookie: 1002n },
    ]);
    assert.deepEqual(producer.stats, { written: 66, backlog: 0, queuedTotal: 2, dropped: 0, frontendLies: 0 });
  });
});

void test('beyond the queue limit events are dropped and counted, and ids stay gapless', () => {
  withSharedPage(({ back, front }) => {
    const consumer = EventConsumer.init(front);
    const producer = new EventProducer(back, { queueLimit: 2 });
    for (let i = 0; i < EVT_RING_LEN; i++) producer.pgFlip(cookie(1n));
    assert.equal(producer.pgFlip(cookie(2n)).queued, true);
    assert.equal(producer.pgFlip(cookie(3n)).queued, true);
    const dropped = producer.pgFlip(cookie(4n));
    assert.equal(dropped.dropped, true);
    assert.equal(producer.stats.dropped, 1);
    take(consumer);
    assert.equal(producer.flush().written, 2);
    assert.equal(producer.pgFlip(cookie(5n)).written, 1);
    // The Linux frontend drops any event whose id is not the next expected one, forever after a
    // gap; a dropped event therefore must not use up an id.
    assert.deepEqual(take(consumer), [
      { id: 63, cookie: 2n },
      { id: 64, cookie: 3n },
      { id: 65, cookie: 5n },
    ]);
  });
});

void test('an impossible in_cons is clamped to "full" and counted; nothing is written', () => {
  for (const lie of [+1, +5, -64, 0x80000000]) {
    withSharedPage(({ bytes, back, front }) => {
      EventConsumer.init(front);
      const producer = new EventProducer(back);
      for (let i = 0; i < 3; i++) producer.pgFlip(cookie(1n));
      const snapshot = bytes.slice();
      writeU32(bytes, IN_CONS, (3 + lie) >>> 0);
      snapshot.set(bytes.subarray(0, 4), 0);
      const out = producer.pgFlip(cookie(9n));
      assert.equal(out.frontendLied, true, `in_cons off by ${lie}`);
      assert.equal(out.written, 0);
      assert.equal(out.queued, true);
      assert.deepEqual(bytes, snapshot, 'page untouched');
      assert.equal(producer.stats.frontendLies, 1);
      // Once the frontend tells the truth again the queued event goes out.
      writeU32(bytes, IN_CONS, 3);
      assert.equal(producer.flush().written, 1);
    });
  }
});

void test('in_prod is private: a value scribbled into the page is overwritten, never used', () => {
  withSharedPage(({ bytes, back, front }) => {
    const consumer = EventConsumer.init(front);
    const producer = new EventProducer(back);
    producer.pgFlip(cookie(1n));
    writeU32(bytes, IN_PROD, 40);
    producer.pgFlip(cookie(2n));
    assert.equal(readU32(bytes, IN_PROD), 2);
    assert.deepEqual(take(consumer), [
      { id: 0, cookie: 1n },
      { id: 1, cookie: 2n },
    ]);
  });
});

void test('indices wrap at 2^32: every event arrives once, in order, with sequential ids', () => {
  withSharedPage(({ back, front }) => {
    const start = 0xffffffff - 100;
    const consumer = EventConsumer.init(front, start);
    const producer = new EventProducer(back, { startIndex: start });
    const received: Array<{ id: number; cookie: bigint }> = [];
    let sent = 0;
    for (let round = 0; round < 80; round++) {
      for (let i = 0; i < 1 + (round % 4); i++) producer.pgFlip(cookie(BigInt(++sent)));
      producer.flush();
      received.push(...take(consumer));
    }
    producer.flush();
    received.push(...take(consumer));
    assert.equal(producer.stats.dropped, 0);
    assert.deepEqual(
      received,
      Array.from({ length: sent }, (_, i) => ({ id: i, cookie: BigInt(i + 1) })),
    );
  });
});

void test('across the wrap the producer never overwrites an unconsumed slot', () => {
  // idx % 63 runs ... 0,1,2,3 for 2^32-4 .. 2^32-1 and then 0 again for index 0: the slot of
  // index 0 still holds the unconsumed event of index 2^32-4.
  assert.equal(eventSlotOffset(0xfffffffc), eventSlotOffset(0));
  withSharedPage(({ back, front }) => {
    const start = 0xfffffffc;
    const consumer = EventConsumer.init(front, start);
    const producer = new EventProducer(back, { startIndex: start });
    for (let i = 0; i < 4; i++) assert.equal(producer.pgFlip(cookie(BigInt(i + 1))).written, 1);
    const fifth = producer.pgFlip(cookie(5n));
    assert.equal(fifth.written, 0, 'would land on the slot of the first, unconsumed event');
    assert.equal(fifth.queued, true);
    assert.deepEqual(
      take(consumer).map((e) => e.cookie),
      [1n, 2n, 3n, 4n],
    );
    assert.equal(producer.flush().written, 1);
    assert.deepEqual(take(consumer), [{ id: 4, cookie: 5n }]);
  });
});

void test('the frontend side refuses an in_prod more than 63 ahead', () => {
  withSharedPage(({ bytes, front }) => {
    const consumer = EventConsumer.init(front);
    writeU32(bytes, IN_PROD, 64);
    assert.equal(consumer.consume(() => assert.fail('nothing may be read')).kind, 'violation');
  });
});

void test('the native producer step writes what the TypeScript producer writes, on hostile in_cons values too', () => {
  // The same events through EventProducer over the addon (putPgFlipEvent) and over plain memory
  // (load32Acquire, the slot written in JavaScript, store32Release), the frontend moving in_cons
  // honestly or anywhere, across the 2^32 wrap: every outcome, the pages and the stats must agree.
  const rand = prng(0xe7);
  withSharedPage(({ bytes, back }) => {
    assert.equal(typeof back.putPgFlipEvent, 'function', 'the addon has the step');
    let native = 0;
    const nativeStep = back.putPgFlipEvent!;
    const counted = {
      ...back,
      putPgFlipEvent: (inProd: number, id: number, c: bigint) => {
        const wrote = nativeStep(inProd, id, c);
        if (wrote) native++;
        return wrote;
      },
    };
    for (let trial = 0; trial < 60; trial++) {
      const start = trial % 3 === 0 ? (0xffffffff - ((rand() * 70) | 0)) >>> 0 : (rand() * 0x100000000) >>> 0;
      bytes.fill(0);
      writeU32(bytes, IN_CONS, start);
      writeU32(bytes, IN_PROD, start);
      const plainPage = bytes.slice();
      const nat = new EventProducer(counted, { startIndex: start, queueLimit: 8 });
      const por = new EventProducer(plainSharedMemory(plainPage), { startIndex: start, queueLimit: 8 });
      for (let step = 0; step < 120; step++) {
        if (rand() < 0.3) {
          // The frontend consumes some of what is outstanding, or writes anything at all.
          const cons = readU32(bytes, IN_CONS);
          const prod = readU32(bytes, IN_PROD);
          const outstanding = (prod - cons) >>> 0;
          const to =
            rand() < 0.85 && outstanding <= EVT_RING_LEN
              ? (cons + Math.floor(rand() * (outstanding + 1))) >>> 0
              : (rand() * 0x100000000) >>> 0;
          writeU32(bytes, IN_CONS, to);
          writeU32(plainPage, IN_CONS, to);
        }
        const c = cookie(BigInt(step + 1) * 0x100000001n);
        const flip = rand() < 0.9;
        const a = flip ? nat.pgFlip(c) : nat.flush();
        const b = flip ? por.pgFlip(c) : por.flush();
        assert.deepEqual(a, b, `trial ${trial} step ${step}`);
        assert.ok(Buffer.from(bytes).equals(Buffer.from(plainPage)), `trial ${trial} step ${step}: pages differ`);
      }
      assert.deepEqual(nat.stats, por.stats);
    }
    assert.ok(native > 1000, `the native step wrote ${native} events (the rest took the TypeScript path)`);
  });
});
