// Transactions: snapshot isolation, EAGAIN on conflict, the retrying helper and its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, fixture, rejectsWith, settle } from './helpers.js';
import { RawConnection } from './raw.js';
import { XsType } from '../../src/xenstore/wire.js';

void test('a transaction sees a snapshot, publishes on commit, and fails with EAGAIN when what it read changed', async () => {
  const f = await fixture();
  const raw = await RawConnection.connect(f.xsd.socketPath);
  try {
    const xs = f.dom0;
    await xs.write('/t/v', 'before');
    const start = await raw.call(XsType.TRANSACTION_START, ['']);
    assert.equal(start.type, XsType.TRANSACTION_START);
    const tx = Number(start.strings[0]);
    assert.ok(tx > 0);
    assert.deepEqual((await raw.call(XsType.READ, ['/t/v'], tx)).type, XsType.READ);
    await xs.write('/t/v', 'outside');
    const inside = await raw.call(XsType.READ, ['/t/v'], tx);
    assert.equal(Buffer.from(inside.strings[0]!).toString(), 'before', 'the snapshot, not the live value');
    assert.deepEqual(await raw.call(XsType.TRANSACTION_END, ['T'], tx), { type: XsType.ERROR, strings: ['EAGAIN'] });
    assert.deepEqual(
      await raw.call(XsType.READ, ['/t/v'], tx),
      { type: XsType.ERROR, strings: ['ENOENT'] },
      'the id is gone',
    );
    assert.deepEqual(await raw.call(XsType.TRANSACTION_START, [''], 5), { type: XsType.ERROR, strings: ['EBUSY'] });
    assert.equal(f.xsd.stats().transactions, 0);
  } finally {
    raw.close();
    await f.close();
  }
});

void test('writes inside a transaction are invisible outside until commit, and watches fire then', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const log = new EventLog();
    await xs.watch('/tw', log.push);
    let seenOutside: string | undefined = 'unset';
    await xs.transaction(async (tx) => {
      await tx.write('/tw/a', '1');
      await tx.write('/tw/b', '2');
      await tx.rm('/tw/a');
      await tx.write('/tw/c/d', '3');
      assert.deepEqual(await tx.directory('/tw'), ['b', 'c']);
      seenOutside = await xs.tryRead('/tw/b');
      await settle(xs);
      assert.deepEqual(log.events, ['/tw'], 'no event before commit');
    });
    assert.equal(seenOutside, undefined);
    assert.equal(await xs.read('/tw/b'), '2');
    assert.equal(await xs.read('/tw/c/d'), '3');
    assert.equal(await xs.tryRead('/tw/a'), undefined);
    await settle(xs);
    assert.deepEqual(log.events.slice(1).sort(), ['/tw/a', '/tw/a', '/tw/b', '/tw/c/d']);
  } finally {
    await f.close();
  }
});

void test('the helper retries on EAGAIN and gives up after its bound', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const other = await f.client(f.xsd.socketPath);
    await xs.write('/c/n', '0');
    let attempts = 0;
    const result = await xs.transaction(async (tx) => {
      attempts++;
      const n = Number(await tx.read('/c/n'));
      if (attempts === 1) await other.write('/c/n', '10'); // a conflicting writer
      await tx.write('/c/n', String(n + 1));
      return n + 1;
    });
    assert.equal(attempts, 2);
    assert.equal(result, 11);
    assert.equal(await xs.read('/c/n'), '11', "the retry saw the other writer's value");

    let tries = 0;
    const err = await rejectsWith(
      xs.transaction(
        async (tx) => {
          tries++;
          await tx.read('/c/n');
          await other.write('/c/n', `w${tries}`);
          await tx.write('/c/n', 'never');
        },
        { retries: 3 },
      ),
      'EAGAIN',
    );
    assert.equal(tries, 4);
    assert.match(err.message, /4 attempts/);
    assert.equal(await xs.read('/c/n'), 'w4');
  } finally {
    await f.close();
  }
});

void test('unrelated transactions both commit; a throwing body aborts; a finished transaction refuses use', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.mkdir('/u/a');
    await xs.mkdir('/u/b');
    const other = await f.client(f.xsd.socketPath);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t1 = xs.transaction(async (tx) => {
      await tx.write('/u/a/x', '1');
      await gate;
    });
    const t2 = other.transaction(async (tx) => {
      await tx.write('/u/b/y', '2');
    });
    await t2;
    release();
    await t1;
    assert.equal(await xs.read('/u/a/x'), '1');
    assert.equal(await xs.read('/u/b/y'), '2');

    await assert.rejects(
      xs.transaction(async (tx) => {
        await tx.write('/u/aborted', 'x');
        throw new Error('body failed');
      }),
      /body failed/,
    );
    assert.equal(await xs.tryRead('/u/aborted'), undefined);

    let leaked: Parameters<Parameters<typeof xs.transaction>[0]>[0] | undefined;
    await xs.transaction(async (tx) => {
      leaked = tx;
    });
    await rejectsWith(leaked!.read('/u'), 'EINVAL', '/u');
    assert.equal(f.xsd.stats().transactions, 0, 'every transaction ended');
  } finally {
    await f.close();
  }
});
