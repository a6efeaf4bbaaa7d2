// Quotas bind guests with the errors C xenstored returns; dom0 is exempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, rejectsWith, waitFor } from './helpers.js';

const quotas = {
  nodesPerDomain: 5,
  maxValueSize: 16,
  watchesPerConnection: 3,
  transactionsPerConnection: 2,
  nodesPerTransaction: 6,
};

async function guestFixture() {
  const f = await fixture({ quotas });
  await f.dom0.mkdir('/local/domain/5');
  await f.dom0.setPerms('/local/domain/5', [{ domid: 5, access: 'n' }]);
  return { f, g: await f.guest(5) };
}

void test('nodes per domain: ENOSPC, and freed nodes count again', async () => {
  const { f, g } = await guestFixture();
  try {
    // The home directory itself is owned by the guest: 1 node already.
    for (let i = 0; i < 4; i++) await g.write(`n${i}`, 'x');
    await rejectsWith(g.write('n4', 'x'), 'ENOSPC', 'n4');
    await rejectsWith(g.mkdir('a/b'), 'ENOSPC');
    await g.write('n0', 'overwrite'); // not a new node
    await g.rm('n0');
    await g.write('n4', 'x');
    for (let i = 0; i < 20; i++) await f.dom0.write(`/dom0/n${i}`, 'x'); // dom0 is not bound
  } finally {
    await f.close();
  }
});

void test('value size: ENOSPC for a guest', async () => {
  const { f, g } = await guestFixture();
  try {
    await g.write('v', 'x'.repeat(16));
    await rejectsWith(g.write('v', 'x'.repeat(17)), 'ENOSPC');
    await f.dom0.write('/local/domain/5/v', 'x'.repeat(100));
  } finally {
    await f.close();
  }
});

void test('watches per connection: E2BIG; duplicate watch: distinct tokens are fine', async () => {
  const { f, g } = await guestFixture();
  try {
    const ws = [
      await g.watch('a', () => undefined),
      await g.watch('a', () => undefined),
      await g.watch('b', () => undefined),
    ];
    await rejectsWith(
      g.watch('c', () => undefined),
      'E2BIG',
      'c',
    );
    await ws[0]!.close();
    ws[0] = await g.watch('c', () => undefined);
    for (const w of ws) await w.close();
  } finally {
    await f.close();
  }
});

void test('transactions per connection and nodes per transaction: ENOSPC', async () => {
  const { f, g } = await guestFixture();
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const open = [g.transaction(() => gate), g.transaction(() => gate)];
    await waitFor(() => f.xsd.stats().transactions === 2, 'two open transactions');
    await rejectsWith(
      g.transaction(async () => undefined),
      'ENOSPC',
    );
    release();
    await Promise.all(open);

    await rejectsWith(
      g.transaction(async (tx) => {
        for (let i = 0; i < 10; i++) await tx.tryRead(`t${i}`);
      }),
      'ENOSPC',
    );
    assert.equal(f.xsd.stats().transactions, 0);
  } finally {
    await f.close();
  }
});
