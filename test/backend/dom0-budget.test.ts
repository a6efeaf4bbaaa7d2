import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetedPlatform, Dom0Budget } from '../../src/backend/dom0-budget.js';
import { DEFAULT_QUOTAS, parseQuotas } from '../../src/backend/quotas.js';
import { dbufCreate } from '../../src/backend/ops/dbuf-create.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { cookie, domId, grantRefsOf, type GrantRef } from '../../src/util/ids.js';
import { PlatformError } from '../../src/xen/platform.js';
import { deviceContext } from './helpers/device-context.js';
import { FakePlatform } from './helpers/fake-platform.js';

const limits =
  (mappedPages: number, allocatedPages = 1000, fds = 10, guests = 1) =>
  () => ({ mappedPages, allocatedPages, fds, guests });

function refusal(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlatformError) return err.errno;
    throw err;
  }
  return undefined;
}

void test('beyond the guests planned for, each may hold limit / (guests + 1); nothing is taken back', () => {
  const b = new Dom0Budget(limits(1200, 1000, 10, 2));
  // Two planned: half each.
  b.take(1, 'mappedPages', 600);
  assert.equal(
    refusal(() => b.take(1, 'mappedPages', 1)),
    12,
    'over its share: -ENOMEM',
  );
  b.take(2, 'mappedPages', 600);
  assert.equal(
    refusal(() => b.take(2, 'mappedPages', 1)),
    12,
  );
  // A third: its share is 1200 / 4, but the budget is full: -EAGAIN until someone lets go.
  assert.equal(
    refusal(() => b.take(3, 'mappedPages', 100)),
    11,
    'within its share but the budget is held by others: -EAGAIN',
  );
  b.give(1, 'mappedPages', 600);
  b.take(3, 'mappedPages', 600); // two guests hold some: half each again
  assert.equal(
    refusal(() => b.take(3, 'mappedPages', 1)),
    12,
  );
  // Guest 1 comes back: three guests, a quarter each, and the budget is full for now.
  assert.equal(
    refusal(() => b.take(1, 'mappedPages', 1)),
    11,
  );
  b.give(3, 'mappedPages', 300);
  assert.equal(
    refusal(() => b.take(1, 'mappedPages', 301)),
    12,
  );
  b.take(1, 'mappedPages', 300);
  // Guest 2 keeps its half (nothing is taken back) but gets no more.
  assert.equal(
    refusal(() => b.take(2, 'mappedPages', 1)),
    12,
  );
  const r = b.report();
  assert.deepEqual(r.used, { mappedPages: 1200, allocatedPages: 0, fds: 0 });
  assert.equal(r.share.mappedPages, 300);
  assert.equal(r.refused.mappedPages, 7);
  assert.deepEqual(
    r.guests.map((g) => [g.domid, g.mappedPages]),
    [
      [1, 300],
      [2, 600],
      [3, 300],
    ],
  );
  b.give(1, 'mappedPages', 300);
  b.give(2, 'mappedPages', 600);
  b.give(3, 'mappedPages', 300);
  assert.deepEqual(b.report().guests, [], 'a guest holding nothing is not counted');
  assert.throws(() => b.give(3, 'mappedPages', 1), /does not hold/);
});

void test('the kinds are counted apart; limits are read at every charge (live configuration)', () => {
  let fds = 4;
  const b = new Dom0Budget(() => ({ mappedPages: 100, allocatedPages: 100, fds, guests: 1 }));
  b.take(1, 'fds', 4);
  assert.equal(
    refusal(() => b.take(1, 'fds', 1)),
    12,
  );
  b.take(1, 'allocatedPages', 50);
  fds = 8;
  b.take(1, 'fds', 2);
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 50, fds: 6 });
});

void test('the budgeted platform charges every mapping and allocation and gives them back once, also on failure', async () => {
  const fake = new FakePlatform();
  const g = fake.guest(5);
  const b = new Dom0Budget(limits(64, 64, 10, 2));
  const p = new BudgetedPlatform(fake, b);
  const refs = g.grantPages(20);
  const m = await p.mapGrants(domId(5), grantRefsOf(refs), { writable: false });
  assert.equal(m.bytes.length, 20 * 4096);
  assert.equal(b.report().used.mappedPages, 20);
  // Over the guest's share (64 / 2): refused before the platform is asked.
  await assert.rejects(
    p.mapGrants(domId(5), grantRefsOf(g.grantPages(20)), { writable: false }),
    (e: PlatformError) => e.errno === 12,
  );
  assert.equal(fake.resources().grantMappings, 1, 'the refused mapping was never made');
  // A mapping the platform refuses gives its charge back.
  await assert.rejects(p.mapGrants(domId(5), grantRefsOf([99999]), { writable: false }));
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
  await assert.rejects(p.exportDmaBuf(domId(5), grantRefsOf(refs)), (e: PlatformError) => e.errno === 25);
  assert.deepEqual(
    b.report().used,
    { mappedPages: 0, allocatedPages: 0, fds: 0 },
    'a failed export gives back its fd and pages',
  );
  assert.deepEqual(b.report().guests, []);
});

void test('an x86 PV dom0: the budget counts maptrack entries, two per mapped page, and every listing of a ref', async () => {
  // Measured on Xen 4.17 (e2e scenario 11): gntdev in a PV dom0 maps each page for the process and
  // again for the kernel, so a page takes two entries of the table the budget protects; a guest
  // naming one ref n times in its directory makes dom0 map it n times. Counted in pages, a budget
  // of half the table let the guests fill all of it.
  const fake = new FakePlatform();
  fake.capabilities = { ...fake.capabilities, maptrackEntriesPerPage: 2 };
  const g = fake.guest(5);
  const b = new Dom0Budget(limits(64, 64, 10, 1));
  const p = new BudgetedPlatform(fake, b);
  const m = await p.mapGrants(domId(5), grantRefsOf(g.grantPages(20)), { writable: false });
  assert.equal(b.report().used.mappedPages, 40, '20 pages: 40 entries');
  const [ref] = g.grantPages(1);
  const again = await p.mapGrants(domId(5), grantRefsOf(Array<GrantRef>(12).fill(ref!)), { writable: false });
  assert.equal(b.report().used.mappedPages, 64, 'one ref listed 12 times: 24 entries');
  await assert.rejects(
    p.mapGrants(domId(5), grantRefsOf(g.grantPages(1)), { writable: false }),
    (e: PlatformError) => e.errno === 12,
    'half the table is taken: the next page is refused',
  );
  again.close();
  m.close();
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 0, fds: 0 });
});

void test("a buffer over the guest's share is refused -ENOMEM before its directory is read; nothing is charged", async () => {
  // On real Xen under load (e2e scenario 11), a 16384-page DBUF_CREATE over the share walked its 17
  // directory pages first and outlasted the request's 2 s deadline: -ETIMEDOUT, not -ENOMEM.
  const fake = new FakePlatform();
  fake.capabilities = { ...fake.capabilities, maptrackEntriesPerPage: 2 };
  const g = fake.guest(5, 2048);
  const b = new Dom0Budget(limits(2048, 64, 10, 2));
  const platform = new BudgetedPlatform(fake, b);
  let reads = 0;
  const map = fake.mapGrants.bind(fake);
  fake.mapGrants = (...args) => {
    reads++;
    return map(...args);
  };
  const ctx = deviceContext(platform, new HeadlessBackend(), []);
  const create = async (c: bigint, pages: number): Promise<number> => {
    const { dir } = g.shareBuffer(pages);
    const req = {
      kind: 'dbuf-create' as const,
      dbufCookie: cookie(c),
      geometry: { width: 1024, height: pages, bpp: 32 },
      bufferSz: pages * 4096,
      beAlloc: false,
      grefDirectory: dir,
      dataOfs: 0,
    };
    return (await dbufCreate(ctx, req)).status;
  };
  // The share is 1024 entries: 512 pages on a PV dom0.
  assert.equal(await create(1n, 513), -12);
  assert.equal(reads, 0, 'no directory page was read');
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 0, fds: 0 });
  assert.equal(b.report().refused.mappedPages, 1, 'the refusal is counted once');
  assert.equal(await create(2n, 512), 0, 'a buffer that fits its share is created');
  assert.equal(b.report().used.mappedPages, 1024);
  ctx.registry.removeBuffer(cookie(2n))?.holds.releaseOwn();
  assert.deepEqual(b.report().used, { mappedPages: 0, allocatedPages: 0, fds: 0 });
});

void test('with dom0-guests planned, that many guests each get a whole share whatever the others do', () => {
  const b = new Dom0Budget(limits(1200, 1000, 10, 4));
  for (const d of [1, 2, 3]) {
    b.take(d, 'mappedPages', 300);
    assert.equal(
      refusal(() => b.take(d, 'mappedPages', 1)),
      12,
      'a quarter each',
    );
  }
  b.take(4, 'mappedPages', 300);
  assert.equal(b.report().used.mappedPages, 1200);
  assert.equal(b.report().planned, 4);
  // A fifth: the shares are a sixth now (one kept free); the budget is full until someone lets go.
  assert.equal(
    refusal(() => b.take(5, 'mappedPages', 1)),
    11,
  );
  b.give(1, 'mappedPages', 300);
  b.take(5, 'mappedPages', 300);
  assert.equal(
    refusal(() => b.take(1, 'mappedPages', 300)),
    12,
    'a returning guest gets the smaller share now',
  );
});

void test('the dom0 budget keys parse like the other quotas', () => {
  const q = parseQuotas('dom0-pages=4096,dom0-alloc-pages=2048,dom0-fds=16,dom0-guests=3');
  assert.deepEqual([q.dom0MappedPages, q.dom0AllocatedPages, q.dom0Fds, q.dom0Guests], [4096, 2048, 16, 3]);
  assert.equal(DEFAULT_QUOTAS.dom0MappedPages, 131072, "half of Xen's default maptrack");
});
