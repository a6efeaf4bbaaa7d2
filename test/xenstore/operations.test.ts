// Every client operation against the simulated xenstored, as dom0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, rejectsWith } from './helpers.js';

void test('read, write, tryRead, mkdir, directory, rm', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.write('/vdispld/test/a', 'one');
    assert.equal(await xs.read('/vdispld/test/a'), 'one');
    assert.equal(await xs.read('/vdispld/test'), '', 'WRITE creates missing parents with empty values');
    await xs.write('/vdispld/test/a', 'two');
    assert.equal(await xs.read('/vdispld/test/a'), 'two');
    assert.equal(await xs.tryRead('/vdispld/test/missing'), undefined);
    await rejectsWith(xs.read('/vdispld/test/missing'), 'ENOENT', '/vdispld/test/missing');

    await xs.mkdir('/vdispld/test/d/e');
    await xs.mkdir('/vdispld/test/a');
    assert.equal(await xs.read('/vdispld/test/a'), 'two', 'MKDIR leaves an existing value alone');
    assert.deepEqual(await xs.directory('/vdispld/test'), ['a', 'd'], 'children in creation order');
    assert.deepEqual(await xs.directory('/vdispld/test/d/e'), []);
    await rejectsWith(xs.directory('/nope'), 'ENOENT', '/nope');

    await xs.rm('/vdispld/test/d');
    assert.deepEqual(await xs.directory('/vdispld/test'), ['a']);
    assert.equal(await xs.tryRead('/vdispld/test/d/e'), undefined, 'RM removes the subtree');
    await xs.rm('/vdispld/test/d');
    await rejectsWith(xs.rm('/vdispld/test/d/e'), 'ENOENT', '/vdispld/test/d/e');
    await rejectsWith(xs.rm('/'), 'EINVAL');

    await xs.write('/vdispld/test/utf8', 'écran ✓');
    assert.equal(await xs.read('/vdispld/test/utf8'), 'écran ✓');
    await xs.write('/vdispld/test/empty', '');
    assert.equal(await xs.read('/vdispld/test/empty'), '');
  } finally {
    await f.close();
  }
});

void test('permissions round-trip in Xen string form, and get_domain_path', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.write('/p', 'x');
    assert.deepEqual(await xs.getPerms('/p'), [{ domid: 0, access: 'n' }], 'inherited from the root');
    await xs.setPerms('/p', [
      { domid: 5, access: 'r' },
      { domid: 7, access: 'b' },
      { domid: 8, access: 'w' },
    ]);
    assert.deepEqual(await xs.getPerms('/p'), [
      { domid: 5, access: 'r' },
      { domid: 7, access: 'b' },
      { domid: 8, access: 'w' },
    ]);
    await xs.write('/p/child', 'y');
    assert.deepEqual(await xs.getPerms('/p/child'), await xs.getPerms('/p'), 'a new node inherits its parent');
    await rejectsWith(xs.setPerms('/p', []), 'EINVAL', '/p');
    await rejectsWith(xs.setPerms('/p', [{ domid: 70000, access: 'r' }]), 'EINVAL', '/p');
    await rejectsWith(xs.getPerms('/missing'), 'ENOENT');
    assert.equal(await xs.getDomainPath(0), '/local/domain/0');
    assert.equal(await xs.getDomainPath(12), '/local/domain/12');
    await rejectsWith(xs.getDomainPath(-1), 'EINVAL');
    assert.deepEqual(await xs.getPerms('@releaseDomain'), [{ domid: 0, access: 'n' }]);
  } finally {
    await f.close();
  }
});

void test('many requests in flight are matched to their replies', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => xs.write(`/many/${i}`, `v${i}`)));
    const values = await Promise.all(Array.from({ length: n }, (_, i) => xs.read(`/many/${i}`)));
    assert.deepEqual(
      values,
      Array.from({ length: n }, (_, i) => `v${i}`),
    );
    const mixed = await Promise.allSettled([
      xs.read('/many/1'),
      xs.read('/many/none'),
      xs.directory('/many/2'),
      xs.read('/many/3'),
    ]);
    assert.deepEqual(
      mixed.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.equal((mixed[3] as PromiseFulfilledResult<string>).value, 'v3');
    assert.equal((await xs.directory('/many')).length, n);
  } finally {
    await f.close();
  }
});

void test('limits are checked before sending, with a clear error', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const big = 'x'.repeat(5000);
    const e = await rejectsWith(xs.write('/big', big), 'E2BIG', '/big');
    assert.match(e.message, /4096/);
    await rejectsWith(xs.read(`/${'a'.repeat(3100)}`), 'EINVAL');
    await rejectsWith(xs.read('/a//b'), 'EINVAL', '/a//b');
    await rejectsWith(xs.read('/a/'), 'EINVAL');
    await rejectsWith(xs.read('/a b'), 'EINVAL');
    await rejectsWith(xs.read(''), 'EINVAL');
    await rejectsWith(xs.write('@releaseDomain', 'x'), 'EINVAL');
    await rejectsWith(
      xs.watch('/a\0b', () => undefined),
      'EINVAL',
    );
    // The client refused them all: the connection is intact and nothing was sent.
    await xs.write('/ok', '1');
    assert.equal(await xs.read('/ok'), '1');
    assert.equal(xs.stats().badFrames, 0);
  } finally {
    await f.close();
  }
});

void test("relative paths resolve under the caller's domain home", async () => {
  const f = await fixture();
  try {
    await f.dom0.mkdir('/local/domain/4');
    await f.dom0.setPerms('/local/domain/4', [{ domid: 4, access: 'n' }]);
    const guest = await f.guest(4);
    await guest.write('device/x', 'rel');
    assert.equal(await f.dom0.read('/local/domain/4/device/x'), 'rel');
    assert.equal(await guest.read('/local/domain/4/device/x'), 'rel');
    await f.dom0.write('data', 'dom0-rel');
    assert.equal(await f.dom0.read('/local/domain/0/data'), 'dom0-rel');
  } finally {
    await f.close();
  }
});
