import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetedPlatform, Dom0Budget } from '../../src/backend/dom0-budget.js';
import { DEFAULT_QUOTAS, parseQuotas } from '../../src/backend/quotas.js';
import { domId } from '../../src/util/ids.js';
import { PlatformError } from '../../src/xen/platform.js';
import { FakePlatform } from './helpers/fake-platform.js';

const limits = (mappedPages: number, allocatedPages = 1000, fds = 10) => () => ({ mappedPages, allocatedPages, fds });

function refusal(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlatformError) return err.errno;
    throw err;
  }
  return undefined;
}

void test('each guest may hold limit / (guests + 1): one share is always free for the next guest', () => {
  const b = new Dom0Budget(limits(1200));
  // Alone, a guest gets half: the other half is the share kept for whoever connects next.
  b.take(1, 'mappedPages', 600);
  assert.equal(refusal(() => b.take(1, 'mappedPages', 1)), 12, 'over its share: -ENOMEM');
  // A second guest: shares are 1200 / 3 = 400 each; the newcomer gets its share.
  b.take(2, 'mappedPages', 400);
  assert.equal(refusal(() => b.take(2, 'mappedPages', 1)), 12);
  // Guest 1 holds more than its new share: refused until it is under it, nothing taken back.
  assert.equal(refusal(() => b.take(1, 'mappedPages', 1)), 12);
  // A third guest still finds room for a share (1200 / 4 = 300); total 1300 would pass the limit.
  b.take(3, 'mappedPages', 200);
  assert.equal(refusal(() => b.take(3, 'mappedPages', 100)), 11, 'within its share but the budget is held by others: -EAGAIN');
  const r = b.report();
  assert.deepEqual(r.used, { mappedPages: 1200, allocatedPages: 0, fds: 0 });
  assert.equal(r.share.mappedPages, 300);
  assert.equal(r.refused.mappedPages, 4);
  assert.deepEqual(
    r.guests.map((g) => [g.domid, g.mappedPages]),
    [
      [1, 600],
      [2, 400],
      [3, 200],
    ],
  );
  b.give(1, 'mappedPages', 600);
  b.give(2, 'mappedPages', 400);
  b.give(3, 'mappedPages', 200);
  assert.deepEqual(b.report().guests, [], 'a guest holding nothing is not counted');
  assert.throws(() => b.give(3, 'mappedPages', 1), /does not hold/);
});

void test('the kinds are counted apart; limits are read at every charge (live configuration)', () => {
  let fds = 4;
  const b = new Dom0Budget(() => ({ mappedPages: 100, allocatedPages: 100, fds }));
  b.take(1, 'fds', 2);
  assert.equal(refusal(() => b.take(1, 'fds', 1)), 12);
  b.take(1, 'allocatedPages', 50);
  fds = 8;
  b.take(1, 'fds', 2);
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 50, fds: 4 });
});

void test('the budgeted platform charges every mapping and allocation and gives them back once, also on failure', async () => {
  const fake = new FakePlatform();
  const g = fake.guest(5);
  const b = new Dom0Budget(limits(64, 64));
  const p = new BudgetedPlatform(fake, b);
  const refs = g.grantPages(20);
  const m = await p.mapGrants(domId(5), refs, { writable: false });
  assert.equal(m.bytes.length, 20 * 4096);
  assert.equal(b.report().used.mappedPages, 20);
  // Over the guest's share (64 / 2): refused before the platform is asked.
  await assert.rejects(p.mapGrants(domId(5), g.grantPages(20), { writable: false }), (e: PlatformError) => e.errno === 12);
  assert.equal(fake.resources().grantMappings, 1, 'the refused mapping was never made');
  // A mapping the platform refuses gives its charge back.
  await assert.rejects(p.mapGrants(domId(5), [99999 as never], { writable: false }));
  assert.equal(b.report().used.mappedPages, 20);
  m.close();
  m.close();
  assert.equal(b.report().used.mappedPages, 0);
  assert.equal(m.bytes.length, 0, 'the wrapped mapping still shows the platform mapping (closed)');
  const a = await p.allocGranted(domId(5), 30);
  assert.equal(b.report().used.allocatedPages, 30);
  a.close();
  a.close();
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 0, fds: 0 });
  await assert.rejects(p.exportDmaBuf(domId(5), refs), (e: PlatformError) => e.errno === 25);
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 0, fds: 0 }, 'a failed export gives back its fd and pages');
  assert.deepEqual(b.report().guests, []);
});

void test('the dom0 budget keys parse like the other quotas', () => {
  const q = parseQuotas('dom0-pages=4096,dom0-alloc-pages=2048,dom0-fds=16');
  assert.deepEqual([q.dom0MappedPages, q.dom0AllocatedPages, q.dom0Fds], [4096, 2048, 16]);
  assert.equal(DEFAULT_QUOTAS.dom0MappedPages, 131072, "half of Xen's default maptrack");
});
