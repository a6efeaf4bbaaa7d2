// Xen's permission model as a guest connection sees it, and domain introduction and release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, fixture, rejectsWith, settle } from './helpers.js';
import { RawConnection } from './raw.js';
import { XsType } from '../../src/xenstore/wire.js';

void test('a guest reads and writes only where the permissions allow', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.write('/secret/key', 's');
    await xs.write('/public/key', 'p');
    await xs.setPerms('/public', [{ domid: 0, access: 'r' }]);
    await xs.setPerms('/public/key', [{ domid: 0, access: 'r' }]);
    await xs.write('/shared/rw', 'x');
    await xs.setPerms('/shared', [
      { domid: 0, access: 'n' },
      { domid: 5, access: 'b' },
    ]);
    await xs.setPerms('/shared/rw', [
      { domid: 0, access: 'n' },
      { domid: 5, access: 'w' },
    ]);
    const g = await f.guest(5);

    await rejectsWith(g.read('/secret/key'), 'EACCES', '/secret/key');
    await rejectsWith(g.read('/secret/missing'), 'EACCES', '/secret/missing'); // existence is not leaked
    await rejectsWith(g.directory('/secret'), 'EACCES');
    await rejectsWith(g.getPerms('/secret'), 'EACCES');
    assert.equal(await g.read('/public/key'), 'p');
    await rejectsWith(g.read('/public/missing'), 'ENOENT', '/public/missing');
    await rejectsWith(g.write('/public/key', 'mine'), 'EACCES', '/public/key');
    await rejectsWith(g.write('/public/new', 'mine'), 'EACCES', '/public/new');
    await rejectsWith(g.mkdir('/public/dir'), 'EACCES');
    await rejectsWith(g.rm('/public/key'), 'EACCES');
    assert.equal(await xs.read('/public/key'), 'p', 'nothing changed');
    assert.equal(await xs.tryRead('/public/new'), undefined);

    await g.write('/shared/rw', 'guest-wrote');
    assert.equal(await xs.read('/shared/rw'), 'guest-wrote');
    await rejectsWith(g.read('/shared/rw'), 'EACCES', '/shared/rw'); // write-only
    const other = await f.guest(6);
    await rejectsWith(other.read('/shared/rw'), 'EACCES');
    await rejectsWith(other.write('/shared/x', '1'), 'EACCES');

    // A domain owns what it creates, inheriting the rest of its parent's ACL.
    await g.write('/shared/made/by/guest', 'g');
    assert.deepEqual(await xs.getPerms('/shared/made/by/guest'), [
      { domid: 5, access: 'n' },
      { domid: 5, access: 'b' },
    ]);
    assert.deepEqual(await xs.getPerms('/shared/made'), [
      { domid: 5, access: 'n' },
      { domid: 5, access: 'b' },
    ]);
    assert.equal(await g.read('/shared/made/by/guest'), 'g');
    // The owner may change the ACL but not hand the node to someone else; others may do neither.
    await g.setPerms('/shared/made', [{ domid: 5, access: 'r' }]);
    await rejectsWith(g.setPerms('/shared/made', [{ domid: 6, access: 'b' }]), 'EPERM', '/shared/made');
    await rejectsWith(other.setPerms('/shared/made', [{ domid: 6, access: 'b' }]), 'EACCES');
    await rejectsWith(g.setPerms('/shared', [{ domid: 5, access: 'b' }]), 'EACCES');
    assert.equal(await other.read('/shared/made'), '', 'others read it now (r as default)');
    await g.rm('/shared/made');
    assert.equal(await xs.tryRead('/shared/made/by/guest'), undefined);
  } finally {
    await f.close();
  }
});

void test('the toolstack writes into a guest-owned directory: the node belongs to the guest', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.mkdir('/local/domain/3');
    await xs.setPerms('/local/domain/3', [
      { domid: 3, access: 'n' },
      { domid: 0, access: 'r' },
    ]);
    await xs.write('/local/domain/3/device/vdispl/0/be-alloc', '0');
    assert.deepEqual(await xs.getPerms('/local/domain/3/device/vdispl/0/be-alloc'), [
      { domid: 3, access: 'n' },
      { domid: 0, access: 'r' },
    ]);
    // A read-only entry, as libxl writes be-alloc for the frontend: owner dom0, guest may read.
    await xs.setPerms('/local/domain/3/device/vdispl/0/be-alloc', [
      { domid: 0, access: 'n' },
      { domid: 3, access: 'r' },
    ]);
    const g = await f.guest(3);
    assert.equal(await g.read('device/vdispl/0/be-alloc'), '0');
    await rejectsWith(g.write('device/vdispl/0/be-alloc', '1'), 'EACCES');
    await g.write('device/vdispl/0/state', '1');
    assert.equal(await xs.read('/local/domain/3/device/vdispl/0/state'), '1');
  } finally {
    await f.close();
  }
});

void test('only dom0 introduces and releases domains; XS_INTRODUCE over the wire works as toolstacks use it', async () => {
  const f = await fixture();
  const raw = await RawConnection.connect(f.xsd.socketPath);
  try {
    const intro = new EventLog();
    const rel = new EventLog();
    await f.dom0.watch('@introduceDomain', intro.push);
    await f.dom0.watch('@releaseDomain', rel.push);
    await intro.until(1);
    await rel.until(1);

    assert.deepEqual(await raw.call(XsType.IS_DOMAIN_INTRODUCED, ['9']), {
      type: XsType.IS_DOMAIN_INTRODUCED,
      strings: ['F'],
    });
    assert.deepEqual(await raw.call(XsType.INTRODUCE, ['9', '12345', '3']), {
      type: XsType.INTRODUCE,
      strings: ['OK'],
    });
    assert.deepEqual(await intro.until(2), ['@introduceDomain', '@introduceDomain']);
    assert.deepEqual(await raw.call(XsType.IS_DOMAIN_INTRODUCED, ['9']), {
      type: XsType.IS_DOMAIN_INTRODUCED,
      strings: ['T'],
    });
    assert.ok(f.xsd.isIntroduced(9));

    const g = await f.client(f.xsd.domainSocketPath(9));
    assert.equal(await g.getDomainPath(9), '/local/domain/9');
    const gRaw = await RawConnection.connect(f.xsd.domainSocketPath(9));
    assert.deepEqual(await gRaw.call(XsType.INTRODUCE, ['10', '1', '1']), { type: XsType.ERROR, strings: ['EACCES'] });
    assert.deepEqual(await gRaw.call(XsType.RELEASE, ['9']), { type: XsType.ERROR, strings: ['EACCES'] });
    assert.deepEqual(await raw.call(XsType.INTRODUCE, ['0', '1', '1']), { type: XsType.ERROR, strings: ['EINVAL'] });

    assert.deepEqual(await raw.call(XsType.RELEASE, ['9']), { type: XsType.RELEASE, strings: ['OK'] });
    assert.deepEqual(await rel.until(2), ['@releaseDomain', '@releaseDomain']);
    assert.equal(await gRaw.next(), undefined, "the released domain's connections are dropped");
    await rejectsWith(g.read('/x'), 'ECONNRESET');
    assert.deepEqual(await raw.call(XsType.RELEASE, ['9']), { type: XsType.ERROR, strings: ['ENOENT'] });
    gRaw.close();
  } finally {
    raw.close();
    await f.close();
  }
});

void test("release drops the domain's watches, fires @releaseDomain and hands its nodes to dom0", async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.mkdir('/local/domain/7');
    await xs.setPerms('/local/domain/7', [{ domid: 7, access: 'n' }]);
    const g = await f.guest(7);
    await g.write('data/x', '1');
    await g.watch('data', () => undefined);
    const rel = new EventLog();
    await xs.watch('@releaseDomain', rel.push);
    const before = f.xsd.stats();
    assert.equal(before.watches, 2);
    assert.deepEqual(before.introduced, [7]);

    assert.equal(await f.xsd.releaseDomain(7), true);
    assert.equal(await f.xsd.releaseDomain(7), false);
    await rel.until(2);
    const after = f.xsd.stats();
    assert.equal(after.watches, 1, "the guest's watch is gone");
    assert.deepEqual(after.introduced, []);
    assert.equal((await xs.getPerms('/local/domain/7/data/x'))[0]!.domid, 0, 'owned by dom0 now');
    await rejectsWith(g.read('data/x'), 'ECONNRESET');
  } finally {
    await f.close();
  }
});

void test('a guest does not see @releaseDomain unless its permissions say so', async () => {
  const f = await fixture();
  try {
    const g = await f.guest(2);
    const seen = new EventLog();
    await g.watch('@releaseDomain', seen.push);
    await seen.until(1); // the registration event always comes
    await f.xsd.introduceDomain(3);
    await f.xsd.releaseDomain(3);
    await settle(g);
    assert.deepEqual(seen.events, ['@releaseDomain']);
    await f.dom0.setPerms('@releaseDomain', [
      { domid: 0, access: 'n' },
      { domid: 2, access: 'r' },
    ]);
    await f.xsd.introduceDomain(3);
    await f.xsd.releaseDomain(3);
    assert.deepEqual(await seen.until(2), ['@releaseDomain', '@releaseDomain']);
  } finally {
    await f.close();
  }
});
