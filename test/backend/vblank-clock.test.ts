// The headless vblank clock's waiter lists (reused between vblanks): each waiter runs once, in the
// order it asked; one that asks again from its callback runs at a later vblank, not twice in this
// one; cancel() forgets what waits and the clock works again after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VblankClock } from '../../src/drm/headless/vblank-clock.js';

const HZ_360 = 360_000;

function nextVblank(c: VblankClock): Promise<number> {
  return new Promise((resolve) => c.next((_ts, seq) => resolve(seq)));
}

void test('waiters run once each, in order; one asking again from its callback waits for a later vblank', async () => {
  const c = new VblankClock(HZ_360);
  try {
    const calls: string[] = [];
    let firstSeq = -1;
    const again = new Promise<number>((resolve) => {
      c.next((_ts, seq) => {
        calls.push('a');
        firstSeq = seq;
        c.next((_t2, seq2) => {
          calls.push('a again');
          resolve(seq2);
        });
      });
      c.next(() => calls.push('b'));
    });
    const seq2 = await again;
    assert.deepEqual(calls, ['a', 'b', 'a again']);
    assert.ok(seq2 > firstSeq, `re-asked at ${firstSeq}, ran at ${seq2}`);
    // Many rounds through the two alternating lists: still exactly one call per request.
    let count = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        c.next(() => count++);
        c.next(() => {
          count++;
          resolve();
        });
      });
    }
    assert.equal(count, 40);
  } finally {
    c.close();
  }
});

void test('cancel forgets every waiter; the clock serves new ones after it', async () => {
  const c = new VblankClock(HZ_360);
  try {
    let cancelled = 0;
    c.next(() => cancelled++);
    c.next(() => cancelled++);
    c.cancel();
    const asked = c.sequenceAt(process.hrtime.bigint());
    const seq = await nextVblank(c);
    const seq2 = await nextVblank(c);
    assert.equal(cancelled, 0);
    // Served at a vblank after the one current when it asked, and the next request at a later one.
    assert.ok(seq > asked, `asked during vblank ${asked}, served at ${seq}`);
    assert.ok(seq2 > seq, `served at ${seq}, then at ${seq2}`);
  } finally {
    c.close();
  }
  // Closed: asking does nothing and leaves no timer behind (the test runner would hang on one).
  let late = 0;
  c.next(() => late++);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(late, 0);
});
