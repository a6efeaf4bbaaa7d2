// Grant copy (SimPlatform.copyFromGrant, the simulated GNTDEV_IOCTL_GRANT_COPY): the page's bytes as
// a private copy, the checks of a read-only map, and nothing left pinned or mapped afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import { GNTST_bad_domain, GNTST_bad_gntref, GNTST_general_error } from '../../src/sim/hv/grant-table.js';
import { SimPlatform } from '../../src/sim/platform.js';
import { domId, grantRef } from '../../src/util/ids.js';
import { PlatformError } from '../../src/xen/platform.js';
import { withHypervisor } from './helpers.js';

const D1 = domId(1);

async function refusal(p: Promise<unknown>): Promise<PlatformError> {
  const err = await p.then(
    () => assert.fail('the copy should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PlatformError, String(err));
  return err;
}

void test('a grant copy is the page as granted, private, and leaves nothing pinned or mapped', async () => {
  await withHypervisor('grant-copy', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    await hv.createDomain({ domid: 2, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const own = await guest.allocPages(3);
      for (let i = 0; i < own.bytes.length; i++) own.bytes[i] = (i * 13 + 5) & 0xff;
      const [rw, ro, notGranted, toOther] = await guest.allocRefs(4);
      guest.grantAccess(rw!, 0, own.first + 2, false);
      guest.grantAccess(ro!, 0, own.first + 1, true);
      guest.grantAccess(toOther!, 2, own.first, true);
      const before = native().memoryStats();

      const page = await be.copyFromGrant(D1, grantRef(rw!), 4096);
      assert.deepEqual(page, own.bytes.subarray(2 * 4096, 3 * 4096));
      own.bytes[2 * 4096] ^= 0xff;
      assert.notEqual(page[0], own.bytes[2 * 4096], 'the copy does not follow the guest page');
      const head = await be.copyFromGrant(D1, grantRef(ro!), 100);
      assert.deepEqual(head, own.bytes.subarray(4096, 4096 + 100), 'a read-only grant copies; length is honoured');

      assert.equal((await refusal(be.copyFromGrant(D1, grantRef(notGranted!), 4096))).gntst, GNTST_general_error);
      const other = await refusal(be.copyFromGrant(D1, grantRef(toOther!), 4096));
      assert.equal(other.gntst, GNTST_general_error);
      assert.match(other.message, /another domain/);
      assert.equal(
        (await refusal(be.copyFromGrant(D1, grantRef(guest.grantEntries + 1), 4096))).gntst,
        GNTST_bad_gntref,
      );
      assert.equal((await refusal(be.copyFromGrant(domId(9), grantRef(rw!), 4096))).gntst, GNTST_bad_domain);
      for (const len of [-1, 4097, 1.5])
        assert.equal((await refusal(be.copyFromGrant(D1, grantRef(rw!), len))).code, 'EINVAL');

      assert.equal(hv.grantStats(1)!.pinnedEntries, 0, 'a copy pins only while it copies');
      assert.ok(guest.endAccess(rw!) && guest.endAccess(ro!), 'the guest can end access at once');
      assert.deepEqual(native().memoryStats(), before, 'nothing was mapped');
      assert.equal(be.resources().grantMappings, 0);
      own.unmap();
    } finally {
      await be.close();
      guest.close();
    }
  });
});
