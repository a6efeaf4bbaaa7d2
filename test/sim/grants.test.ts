// Grant semantics of the simulated host against Xen's: every GNTST outcome of a map, zero-copy
// sharing, ending access while mapped, be-alloc grants with deferred release, zombie domains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import {
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_no_space,
  GTF_reading,
  GTF_writing,
} from '../../src/sim/hv/grant-table.js';
import { ramPath } from '../../src/sim/hv/paths.js';
import { SimPlatform } from '../../src/sim/platform.js';
import { PlatformError } from '../../src/xen/platform.js';
import { domId, grantRefsOf, type GrantRefs } from '../../src/util/ids.js';
import { until, withHypervisor } from './helpers.js';

const D1 = domId(1);
const refsOf = (xs: number[]): GrantRefs => grantRefsOf(xs);

async function expectMapError(p: Promise<unknown>, gntst: number | undefined, errno = 22): Promise<PlatformError> {
  const err = await p.then(
    () => assert.fail('map should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PlatformError, `expected PlatformError, got ${String(err)}`);
  assert.equal(err.errno, errno);
  assert.equal(err.gntst, gntst);
  return err;
}

/** A guest with `n` consecutive pages granted to dom0; returns the refs and its view. */
async function guestShares(guest: DomainKernel, n: number, readonly = false) {
  const pages = await guest.allocPages(n);
  const refs = await guest.allocRefs(n);
  refs.forEach((r, i) => guest.grantAccess(r, 0, pages.first + i, readonly));
  return { pages, refs };
}

void test('every GNTST outcome of a map is reported as the gntdev ioctl would (EINVAL + GNTST code)', async () => {
  await withHypervisor('gntst', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    await hv.createDomain({ domid: 2, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    const other = await DomainKernel.connect(dir, 2);
    try {
      const { refs } = await guestShares(guest, 2);
      const [unused] = await guest.allocRefs(1);

      // Unknown (never written) entry: Xen's "Bad flags (0) or dom".
      const e1 = await expectMapError(be.mapGrants(D1, refsOf([unused!]), { writable: false }), GNTST_general_error);
      assert.equal(e1.code, 'GNTST_general_error');
      // A ref beyond the grant table.
      await expectMapError(be.mapGrants(D1, refsOf([guest.grantEntries + 5]), { writable: false }), GNTST_bad_gntref);
      // A domain that does not exist.
      await expectMapError(be.mapGrants(domId(77), refsOf([refs[0]!]), { writable: false }), GNTST_bad_domain);
      // Granted to dom0, mapped by dom2: wrong grantee.
      const o = await DomainKernel.connect(dir, 2);
      const wrong = await o.mapForeign(1, [refs[0]!], false).then(
        () => undefined,
        (e: unknown) => e as PlatformError,
      );
      assert.equal(wrong?.gntst, GNTST_general_error);
      assert.match(wrong!.message, /another domain/);
      o.close();
      // Read-only grant: a read-only map works, a writable one fails.
      const ro = await guestShares(guest, 1, true);
      const roMap = await be.mapGrants(D1, refsOf(ro.refs), { writable: false });
      const e4 = await expectMapError(be.mapGrants(D1, refsOf(ro.refs), { writable: true }), GNTST_general_error);
      assert.match(e4.message, /read-only/);
      roMap.close();
      // A frame outside the guest's memory.
      const [badFrameRef] = await guest.allocRefs(1);
      guest.grantAccess(badFrameRef!, 0, 10_000, false);
      await expectMapError(be.mapGrants(D1, refsOf([badFrameRef!]), { writable: false }), GNTST_bad_page);
      assert.equal(guest.grantTable.header(badFrameRef!) & (GTF_reading | GTF_writing), 0, 'flags rolled back');
      // No pages, or more than gntdev takes in one request: EINVAL before any hypercall.
      await expectMapError(be.mapGrants(D1, refsOf([]), { writable: false }), undefined);
      // A failure in the middle of a batch unpins what the batch had pinned.
      await expectMapError(be.mapGrants(D1, refsOf([refs[0]!, unused!]), { writable: true }), GNTST_general_error);
      assert.equal(guest.grantTable.header(refs[0]!) & (GTF_reading | GTF_writing), 0);
      assert.equal(hv.grantStats(1)!.pinnedEntries, 0);
      // Pinned by one domain, another may not map it even if the entry is rewritten for it.
      const held = await be.mapGrants(D1, refsOf([refs[1]!]), { writable: false });
      guest.grantTable.grantAccess(refs[1]!, 2, guest.grantTable.frame(refs[1]!), false);
      const e6 = await other.mapForeign(1, [refs[1]!], false).then(
        () => undefined,
        (e: unknown) => e as PlatformError,
      );
      assert.equal(e6?.gntst, GNTST_general_error);
      held.close();
      // A destroyed domain is not mappable any more.
      await hv.destroyDomain(2);
      const { refs: r2 } = await guestShares(guest, 1);
      await be.sync();
      await expectMapError(be.mapGrants(domId(2), refsOf(r2), { writable: false }), GNTST_bad_domain);
    } finally {
      other.close();
      guest.close();
      await be.close();
    }
  });
});

void test('a domain out of maptrack handles gets GNTST_no_space', async () => {
  await withHypervisor(
    'maptrack',
    async (hv, dir) => {
      await hv.createDomain({ domid: 1, ramPages: 256 });
      const be = await SimPlatform.connect({ dir });
      const guest = await DomainKernel.connect(dir, 1);
      try {
        const { refs } = await guestShares(guest, 6);
        const a = await be.mapGrants(D1, refsOf(refs.slice(0, 4)), { writable: false });
        await expectMapError(be.mapGrants(D1, refsOf(refs.slice(4)), { writable: false }), GNTST_no_space);
        a.close();
        const b = await be.mapGrants(D1, refsOf(refs.slice(4)), { writable: false });
        b.close();
      } finally {
        guest.close();
        await be.close();
      }
    },
    { maptrackLimit: 5 },
  );
});

void test('a mapping is the very same pages: writes cross without a copy, both ways', async () => {
  await withHypervisor('zerocopy', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const { pages, refs } = await guestShares(guest, 3);
      const m = await be.mapGrants(D1, refsOf(refs), { writable: true });
      assert.equal(m.bytes.length, 3 * 4096);
      pages.bytes[5000] = 0x5a;
      pages.bytes[3 * 4096 - 1] = 0xa5;
      assert.equal(m.bytes[5000], 0x5a);
      assert.equal(m.bytes[3 * 4096 - 1], 0xa5);
      m.bytes[10] = 77;
      assert.equal(pages.bytes[10], 77);
      // The entry shows the mapping as Xen's flags do.
      assert.equal(guest.grantTable.header(refs[0]!) & (GTF_reading | GTF_writing), GTF_reading | GTF_writing);
      assert.deepEqual(be.resources(), {
        grantMappings: 1,
        mappedPages: 3,
        exportedDmaBufs: 0,
        grantedBuffers: 0,
        eventChannels: 0,
      });
      m.close();
      m.close();
      assert.equal(m.bytes.byteLength, 0, 'bytes are detached after close');
      assert.equal(be.resources().grantMappings, 0);
      await be.sync();
      assert.equal(hv.grantStats(1)!.pinnedEntries, 0);
      assert.equal(guest.grantTable.header(refs[0]!) & (GTF_reading | GTF_writing), 0);
      pages.unmap();
    } finally {
      guest.close();
      await be.close();
    }
  });
});

void test('ending access fails while the page is mapped and succeeds once unmapped', async () => {
  await withHypervisor('endaccess', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const { refs } = await guestShares(guest, 1);
      const m = await be.mapGrants(D1, refsOf(refs), { writable: false });
      assert.equal(guest.endAccess(refs[0]!), false, 'in use: GTF_reading is set');
      m.close();
      await be.sync();
      assert.equal(guest.endAccess(refs[0]!), true);
      // An ended grant cannot be mapped any more.
      await expectMapError(be.mapGrants(D1, refsOf(refs), { writable: false }), GNTST_general_error);
    } finally {
      guest.close();
      await be.close();
    }
  });
});

void test("be-alloc: pages granted by the backend are the guest's view; release waits for the guest to unmap", async () => {
  await withHypervisor('bealloc', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const before = hv.grantStats(0)!;
      const buf = await be.allocGranted(D1, 4);
      assert.equal(buf.refs.length, 4);
      const view = await guest.mapForeign(0, buf.refs, true);
      buf.bytes![4096 * 3 + 7] = 9;
      assert.equal(view.bytes[4096 * 3 + 7], 9);
      view.bytes[1] = 8;
      assert.equal(buf.bytes![1], 8);
      buf.close();
      assert.equal(be.resources().grantedBuffers, 0);
      await be.sync();
      // Still mapped by the guest: the grants and pages stay until it unmaps.
      assert.equal(hv.grantStats(0)!.allocatedRefs, before.allocatedRefs + 4);
      assert.equal(view.bytes[1], 8, "the guest's mapping stays valid");
      view.close();
      await guest.sync();
      assert.equal(hv.grantStats(0)!.allocatedRefs, before.allocatedRefs);
      assert.equal(hv.grantStats(0)!.allocatedPages, before.allocatedPages);
      await expectMapError(guest.mapForeign(0, buf.refs, false), GNTST_general_error);
    } finally {
      guest.close();
      await be.close();
    }
  });
});

void test('a destroyed domain whose pages are mapped is a counted zombie until they are unmapped', async () => {
  await withHypervisor('zombie', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    const { pages, refs } = await guestShares(guest, 2);
    pages.bytes[0] = 123;
    const m = await be.mapGrants(D1, refsOf(refs), { writable: false });
    await hv.destroyDomain(1);
    await until(() => guest.hv.closed, 2000, 'the guest connection to drop');
    assert.deepEqual(hv.zombies(), [1]);
    assert.equal(hv.domainState(1), 'zombie');
    assert.equal(m.bytes[0], 123, "the backend's mapping of a zombie's page stays valid");
    assert.ok(existsSync(ramPath(dir, 1)));
    m.close();
    await hv.waitNoZombies(2000);
    assert.deepEqual(hv.zombies(), []);
    assert.equal(hv.domainState(1), undefined);
    assert.ok(!existsSync(ramPath(dir, 1)), 'the memory goes with the last mapping');
    pages.unmap();
    guest.close();
    await be.close();
  });
});

void test('closing the platform releases what it still held, like closing the device files', async () => {
  await withHypervisor('release', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    const { refs } = await guestShares(guest, 2);
    await be.mapGrants(D1, refsOf(refs), { writable: true });
    await be.allocGranted(D1, 2);
    await be.close();
    await guest.sync();
    assert.equal(hv.grantStats(1)!.pinnedEntries, 0);
    assert.equal(hv.grantStats(0)!.allocatedRefs, 0);
    assert.equal(guest.endAccess(refs[0]!), true);
    guest.close();
  });
});

void test('dma-buf export: refused like a kernel without CONFIG_XEN_GNTDEV_DMABUF unless enabled', async () => {
  await withHypervisor('dmabuf', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const plain = await SimPlatform.connect({ dir });
    const zc = await SimPlatform.connect({ dir, dmabuf: 'contiguous' });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const { pages, refs } = await guestShares(guest, 2);
      assert.equal(plain.capabilities.dmabufExport, false);
      const e = await plain.exportDmaBuf(D1, refsOf(refs)).then(
        () => undefined,
        (x: unknown) => x as PlatformError,
      );
      assert.equal(e?.errno, 25);
      assert.equal(zc.capabilities.dmabufExport, true);
      const buf = await zc.exportDmaBuf(D1, refsOf(refs));
      pages.bytes[4096 + 3] = 0x77;
      const { native } = await import('../../src/native/addon.js');
      const view = native().mapFd(buf.fd, buf.offset, buf.size, false);
      assert.equal(new Uint8Array(view.buffer)[4096 + 3], 0x77);
      view.unmap();
      assert.equal(guest.endAccess(refs[0]!), false, 'exported pages stay pinned');
      await buf.close();
      await zc.sync();
      assert.equal(guest.endAccess(refs[0]!), true);
    } finally {
      guest.close();
      await plain.close();
      await zc.close();
    }
  });
});
