// The shared page between the backend's producer and a frontend consumer on one file-backed page
// mapped twice (as a grant mapping is): order, the 51-slot ring across the 2^32 wrap, bounded
// queues with coalescing, and every lie of the frontend detected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InRingConsumer, InRingProducer, inSlotOffset } from '../../src/kbdif/shared-page.js';
import { IN_RING_LEN, IN_RING_OFFS, IN_EVENT_SIZE } from '../../src/kbdif/constants.js';
import { KBD_PAGE } from '../../src/kbdif/wire-layout.js';
import type { KbdEvent } from '../../src/kbdif/events.js';
import { withSharedPage } from '../displif/helpers.js';

const key = (keycode: number, pressed = true): KbdEvent => ({ kind: 'key', keycode, pressed });
const pos = (x: number, y: number): KbdEvent => ({ kind: 'pos', absX: x, absY: y, relZ: 0 });

void test('events arrive in order; the frontend notifying drains what did not fit', () => {
  withSharedPage(({ back, front }) => {
    const p = new InRingProducer(back);
    const c = new InRingConsumer(front);
    const sent = Array.from({ length: 120 }, (_, i) => key(1 + (i % 200), i % 2 === 0));
    assert.deepEqual(p.send(sent), { notify: true });
    assert.equal(p.stats.written, IN_RING_LEN);
    assert.equal(p.stats.backlog, 120 - IN_RING_LEN);
    const got: unknown[] = [];
    while (got.length < 120) {
      const r = c.consume();
      assert.equal(r.violation, undefined);
      got.push(...r.events);
      p.flush();
    }
    assert.deepEqual(got, sent);
    assert.deepEqual(p.stats, { written: 120, backlog: 0, coalesced: 0, dropped: 0 });
  });
});

void test('indices wrap at 2^32; index 0 waits while 2^32-1, in the same slot, is unconsumed', () => {
  withSharedPage(({ bytes, back, front }) => {
    const start = 0xffffffff - 20;
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(KBD_PAGE.in_cons, start, true);
    const p = new InRingProducer(back);
    const c = new InRingConsumer(front);
    const batch = Array.from({ length: 40 }, (_, i) => pos(i, i));
    p.send(batch);
    // 2^32 % 51 = 1: index 2^32-1 sits in slot 0, where index 0 would go.
    assert.equal(p.stats.written, 21);
    const first = c.consume();
    assert.deepEqual(first.events, batch.slice(0, 21));
    p.flush();
    assert.deepEqual(c.consume().events, batch.slice(21));
    for (let round = 1; round < 3; round++) {
      const more = Array.from({ length: 40 }, (_, i) => pos(round * 100 + i, i));
      p.send(more);
      assert.deepEqual(c.consume().events, more);
    }
    assert.equal(back.load32Acquire(KBD_PAGE.in_prod), (start + 120) >>> 0);
    assert.equal(inSlotOffset(0xffffffff), IN_RING_OFFS + (0xffffffff % IN_RING_LEN) * IN_EVENT_SIZE);
  });
});

void test('a full queue coalesces pointer motion and drops the rest, counted', () => {
  withSharedPage(({ back }) => {
    const p = new InRingProducer(back, 4);
    p.send(Array.from({ length: IN_RING_LEN + 4 }, (_, i) => key(2 + (i % 50))));
    assert.equal(p.stats.backlog, 4);
    p.send([key(30)]);
    assert.equal(p.stats.dropped, 1);
    // The last queued event is a key: a pointer event has nothing to merge into.
    p.send([pos(1, 1)]);
    assert.equal(p.stats.dropped, 2);
  });
  withSharedPage(({ back, front }) => {
    const p = new InRingProducer(back, 2);
    p.send(Array.from({ length: IN_RING_LEN }, () => key(5)));
    p.send([pos(1, 1), pos(2, 2), pos(3, 3), pos(4, 4)]);
    p.send([{ kind: 'motion', relX: 1, relY: 0, relZ: 0 }]);
    assert.deepEqual(p.stats, { written: IN_RING_LEN, backlog: 2, coalesced: 2, dropped: 1 });
    const c = new InRingConsumer(front);
    c.consume();
    p.flush();
    assert.deepEqual(c.consume().events, [pos(1, 1), pos(4, 4)]);
  });
});

void test('an impossible in_cons and any out event are violations', () => {
  withSharedPage(({ bytes, back }) => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const p = new InRingProducer(back);
    dv.setUint32(KBD_PAGE.in_cons, 5, true);
    assert.match(p.send([key(3)]).violation ?? '', /in_cons 5 is impossible/);
    dv.setUint32(KBD_PAGE.in_cons, 0, true);
    assert.equal(p.send([]).violation, undefined);
    dv.setUint32(KBD_PAGE.out_prod, 1, true);
    assert.match(p.flush().violation ?? '', /out_prod moved from 0 to 1/);
  });
});

void test('a page from a previous connection: production continues at in_cons, out baseline taken', () => {
  withSharedPage(({ bytes, back, front }) => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    dv.setUint32(KBD_PAGE.in_cons, 1000, true);
    dv.setUint32(KBD_PAGE.in_prod, 1010, true);
    dv.setUint32(KBD_PAGE.out_prod, 7, true);
    const p = new InRingProducer(back);
    assert.equal(dv.getUint32(KBD_PAGE.in_prod, true), 1000);
    assert.equal(dv.getUint32(KBD_PAGE.out_cons, true), 7);
    p.send([key(17)]);
    assert.deepEqual(new InRingConsumer(front).consume().events, [key(17)]);
  });
});

void test('the consumer refuses a backend claiming more than a ring', () => {
  withSharedPage(({ bytes, front }) => {
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(KBD_PAGE.in_prod, IN_RING_LEN + 1, true);
    assert.match(new InRingConsumer(front).consume().violation ?? '', /more than 51 ahead/);
  });
});
