// Grants of frames that do not lie end to end: real gntdev maps any set of frames into one
// contiguous range, and so must the simulator. Each page of the backend's view must be the
// guest's very page (zero-copy both ways), in ref order, whatever order the frames are in; a whole
// DBUF_CREATE over a scattered buffer and directory must see the right bytes; and everything is
// released afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferRegistry } from '../../src/backend/buffer-registry.js';
import type { DeviceContext } from '../../src/backend/ops/context.js';
import { dbufCreate } from '../../src/backend/ops/dbuf-create.js';
import { dbufDestroy } from '../../src/backend/ops/framebuffers.js';
import { DEFAULT_QUOTAS } from '../../src/backend/quotas.js';
import { writePageDirectory } from '../../src/displif/page-directory.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { native } from '../../src/native/addon.js';
import { DomainKernel, type OwnPages } from '../../src/sim/domain-kernel.js';
import { SimPlatform } from '../../src/sim/platform.js';
import { cookie, domId, grantRef, grantRefsOf, type GrantRef } from '../../src/util/ids.js';
import { PlatformError } from '../../src/xen/platform.js';
import { withHypervisor } from './helpers.js';

const PAGE = 4096;
const D1 = domId(1);

/** Marks every page of `own` with its frame number: byte 0 = frame & 0xff, bytes 1..3 the rest. */
function markFrames(own: OwnPages): void {
  for (let i = 0; i < own.pages; i++) {
    const frame = own.first + i;
    own.bytes.fill((frame * 7) & 0xff, i * PAGE, (i + 1) * PAGE);
    new DataView(own.bytes.buffer, own.bytes.byteOffset + i * PAGE).setUint32(0, frame, true);
  }
}

function frameAt(view: Uint8Array, page: number): number {
  return new DataView(view.buffer, view.byteOffset + page * PAGE).getUint32(0, true);
}

/** Grants frames `own.first + offsets[i]` under fresh refs, in that order. */
async function grantScattered(
  guest: DomainKernel,
  own: OwnPages,
  offsets: readonly number[],
  readonly = false,
): Promise<GrantRef[]> {
  const refs = await guest.allocRefs(offsets.length);
  offsets.forEach((o, i) => guest.grantAccess(refs[i]!, 0, own.first + o, readonly));
  return refs.map(grantRef);
}

void test('scattered and reversed frames map, in ref order, onto the guest very pages', async () => {
  await withHypervisor('scatter-map', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 512 });
    const be = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    const before = native().memoryStats();
    try {
      const own = await guest.allocPages(64);
      markFrames(own);
      const layouts = [[5, 40, 2, 63, 17, 18, 19, 0], Array.from({ length: 64 }, (_, i) => 63 - i)];
      for (const offsets of layouts) {
        const refs = await grantScattered(guest, own, offsets);
        const m = await be.mapGrants(D1, grantRefsOf(refs), { writable: false });
        assert.equal(m.bytes.length, offsets.length * PAGE);
        offsets.forEach((o, i) => {
          assert.equal(frameAt(m.bytes, i), own.first + o, `page ${i} is frame +${o}`);
          assert.equal(m.bytes[(i + 1) * PAGE - 1], ((own.first + o) * 7) & 0xff);
        });
        // Zero-copy: the guest writes its page, the backend's view of it changes.
        own.bytes[offsets[3]! * PAGE + 99] = 0xab;
        assert.equal(m.bytes[3 * PAGE + 99], 0xab);
        m.close();
        await be.sync();
        for (const r of refs) assert.ok(guest.endAccess(r), `ref ${r} is free once unmapped`);
        guest.freeRefs(refs);
      }
      // And a writable mapping: the backend writes, the guest reads it in its own page.
      const refs = await grantScattered(guest, own, [9, 3, 30]);
      const w = await be.mapGrants(D1, grantRefsOf(refs), { writable: true });
      w.bytes[2 * PAGE + 10] = 0x3c;
      assert.equal(own.bytes[30 * PAGE + 10], 0x3c);
      w.close();
      await be.sync();
      assert.equal(hv.grantStats(1)!.pinnedEntries, 0);
      assert.equal(hv.grantStats(0)!.mappings, 0);
      own.unmap();
    } finally {
      await be.close();
      guest.close();
    }
    assert.deepEqual(native().memoryStats(), before, 'every mapping is gone');
  });
});

void test('DBUF_CREATE over a scattered buffer and directory sees the guest pages in order', async () => {
  await withHypervisor('scatter-dbuf', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 4096 });
    const platform = await SimPlatform.connect({ dir });
    const guest = await DomainKernel.connect(dir, 1);
    const outputs = new HeadlessBackend();
    try {
      // 1100 data pages (two directory pages), every other frame, in reverse, directory pages between.
      const n = 1100;
      const own = await guest.allocPages(2 * n + 4);
      markFrames(own);
      const dataOffsets = Array.from({ length: n }, (_, i) => 2 * (n - 1 - i) + 1);
      const dirOffsets = [2 * n + 2, 0];
      const data = await grantScattered(guest, own, dataOffsets, true);
      const dirRefs = await grantScattered(guest, own, dirOffsets, true);
      const dirPages = dirOffsets.map((o) => own.bytes.subarray(o * PAGE, (o + 1) * PAGE));
      writePageDirectory(dirPages, dirRefs, data);

      const out = outputs.createOutput({ name: 'o0', width: 640, height: 480 });
      const registry = new BufferRegistry(DEFAULT_QUOTAS);
      const ctx: DeviceContext = {
        domid: D1,
        version: 2,
        beAlloc: false,
        platform,
        allocator: outputs,
        registry,
        connectors: [{ index: 0, uniqueId: 'c0', resolution: { width: 640, height: 480 }, output: out, scanout: null }],
        nextFramebufferId: () => 1,
        live: true,
      };
      const c = cookie(0x51n);
      const r = await dbufCreate(ctx, {
        kind: 'dbuf-create',
        dbufCookie: c,
        geometry: { width: 1024, height: 1100, bpp: 32 },
        bufferSz: n * PAGE,
        beAlloc: false,
        grefDirectory: dirRefs[0]!,
        dataOfs: 0,
      });
      assert.equal(r.status, 0);
      const bytes = registry.buffer(c)!.source.bytes;
      assert.equal(bytes.length, n * PAGE);
      dataOffsets.forEach((o, i) => assert.equal(frameAt(bytes, i), own.first + o, `buffer page ${i}`));
      own.bytes[dataOffsets[700]! * PAGE + 5] = 0x77;
      assert.equal(bytes[700 * PAGE + 5], 0x77, 'the buffer is the guest memory, not a copy');
      assert.equal(dbufDestroy(ctx, { kind: 'dbuf-destroy', dbufCookie: c }), 0);
      await platform.sync();
      assert.equal(hv.grantStats(1)!.pinnedEntries, 0);
      assert.deepEqual(platform.resources(), {
        grantMappings: 0,
        mappedPages: 0,
        exportedDmaBufs: 0,
        grantedBuffers: 0,
        eventChannels: 0,
      });
      own.unmap();
    } finally {
      await outputs.close();
      await platform.close();
      guest.close();
    }
  });
});

void test('a simulated dma-buf export of scattered frames is refused and holds nothing', async () => {
  await withHypervisor('scatter-export', async (hv, dir) => {
    await hv.createDomain({ domid: 1, ramPages: 256 });
    const be = await SimPlatform.connect({ dir, dmabuf: 'contiguous' });
    const guest = await DomainKernel.connect(dir, 1);
    try {
      const own = await guest.allocPages(8);
      const refs = await grantScattered(guest, own, [1, 0, 2]);
      const err = await be.exportDmaBuf(D1, grantRefsOf(refs)).then(
        () => assert.fail('export should be refused'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PlatformError);
      assert.equal(err.code, 'SIM_NONCONTIGUOUS');
      await be.sync();
      assert.equal(hv.grantStats(1)!.pinnedEntries, 0, 'the pins taken for the export are released');
      // Consecutive frames still export, at their offset in the memory file.
      const ok = await grantScattered(guest, own, [4, 5, 6]);
      const buf = await be.exportDmaBuf(D1, grantRefsOf(ok));
      assert.equal(buf.offset, (own.first + 4) * PAGE);
      await buf.close();
      own.unmap();
    } finally {
      await be.close();
      guest.close();
    }
  });
});
