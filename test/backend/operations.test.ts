// The request handlers' policy, every errno path of docs/PROTOCOL-NOTES.md's checks that is the
// backend's (the decoder's own paths are tested in test/displif), over an in-process platform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XEN_E2BIG, XEN_EBUSY, XEN_EEXIST, XEN_EINVAL, XEN_ENOENT, XEN_ENOMEM } from '../../src/displif/constants.js';
import { edidChecksumsOk, preferredTiming } from '../../src/displif/edid.js';
import { formatByName, type PixelFormat } from '../../src/displif/formats.js';
import { writePageDirectory } from '../../src/displif/page-directory.js';
import { readU32, writeU32 } from '../../src/displif/bytes.js';
import type { DbufCreate } from '../../src/displif/requests.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { DEFAULT_QUOTAS, parseQuotas, type Quotas } from '../../src/backend/quotas.js';
import type { ConnectorState, DeviceContext } from '../../src/backend/ops/context.js';
import { fakeFlips } from './helpers/fake-flips.js';
import { deviceContext } from './helpers/device-context.js';
import { dbufCreate } from '../../src/backend/ops/dbuf-create.js';
import { dbufDestroy, fbAttach, fbDetach } from '../../src/backend/ops/framebuffers.js';
import { getEdid } from '../../src/backend/ops/get-edid.js';
import { pgFlip, setConfig } from '../../src/backend/ops/scanout.js';
import { cookie, type GrantRef } from '../../src/util/ids.js';
import { FakePlatform, type FakeGuest } from './helpers/fake-platform.js';

const XRGB = formatByName('XRGB8888')!;
const RGB565 = formatByName('RGB565')!;

interface Harness {
  ctx: DeviceContext & { live: boolean };
  platform: FakePlatform;
  guest: FakeGuest;
  outputs: HeadlessBackend;
  conn: ConnectorState;
}

function harness(opts: { quotas?: Quotas; beAlloc?: boolean; version?: 1 | 2 } = {}): Harness {
  const platform = new FakePlatform();
  const guest = platform.guest(5, 8192);
  const outputs = new HeadlessBackend();
  const out = outputs.createOutput({ name: 'o0', width: 640, height: 480 });
  const conn: ConnectorState = {
    index: 0,
    uniqueId: 'id0',
    resolution: { width: 640, height: 480 },
    output: out,
    scanout: null,
  };
  const ctx = deviceContext(platform, outputs, [conn], opts);
  return { ctx, platform, guest, outputs, conn };
}

/** A frontend-allocated buffer of `bufferSz` bytes (FakeGuest.shareBuffer). */
const shareBuffer = (guest: FakeGuest, bufferSz: number): ReturnType<FakeGuest['shareBuffer']> =>
  guest.shareBuffer(Math.ceil(bufferSz / 4096));

function createReq(
  c: bigint,
  dir: GrantRef,
  w: number,
  h: number,
  bpp: number,
  bufferSz?: number,
  extra: Partial<DbufCreate> = {},
): DbufCreate {
  return {
    kind: 'dbuf-create',
    dbufCookie: cookie(c),
    geometry: w === 0 ? null : { width: w, height: h, bpp },
    bufferSz: bufferSz ?? Math.ceil((w * bpp) / 8) * h,
    beAlloc: false,
    grefDirectory: dir,
    dataOfs: 0,
    ...extra,
  };
}

const attach = (h: Harness, dbuf: bigint, fb: bigint, w: number, ht: number, format: PixelFormat = XRGB): number =>
  fbAttach(h.ctx, { kind: 'fb-attach', dbufCookie: cookie(dbuf), fbCookie: cookie(fb), width: w, height: ht, format });

async function create(h: Harness, c: bigint, w: number, ht: number, bpp = 32): Promise<number> {
  const sz = Math.ceil((w * bpp) / 8) * ht;
  const { dir } = shareBuffer(h.guest, sz);
  return (await dbufCreate(h.ctx, createReq(c, dir, w, ht, bpp))).status;
}

void test('DBUF_CREATE maps the listed pages read-only; the same pages the guest draws into', async () => {
  const h = harness();
  const { dir, data } = shareBuffer(h.guest, 64 * 48 * 4);
  const r = await dbufCreate(h.ctx, createReq(1n, dir, 64, 48, 32));
  assert.equal(r.status, 0);
  const b = h.ctx.registry.buffer(cookie(1n));
  assert.ok(b && b.backing.kind === 'frontend');
  assert.equal(b.backing.mapping.writable, false);
  assert.deepEqual(Array.from(b.backing.mapping.refs), data);
  assert.equal(b.source.bytes.length, 64 * 48 * 4, 'outputs see buffer_sz bytes, not whole pages');
  h.guest.page(data[1]!)[7] = 0x5a;
  assert.equal(b.source.bytes[4096 + 7], 0x5a);
  // Directory pages were mapped only while read.
  assert.equal(h.platform.resources().grantMappings, 1);
  assert.equal(h.ctx.registry.counts().pages, 3);
});

void test('DBUF_CREATE errno paths: duplicate cookie, bad directory, unmapped refs; a stale REQ_ALLOC bit ignored', async () => {
  const h = harness();
  assert.equal(await create(h, 1n, 16, 16), 0);
  assert.equal(await create(h, 1n, 16, 16), -XEN_EEXIST);
  // Directory with a ref of 0 among the listed ones.
  let s = shareBuffer(h.guest, 3 * 4096);
  writeU32(h.guest.page(s.dir), 4 + 4 * 1, 0);
  assert.equal((await dbufCreate(h.ctx, createReq(2n, s.dir, 32, 96, 32, 3 * 4096))).status, -XEN_EINVAL);
  // More refs listed than buffer_sz needs: a fourth ref after the three.
  s = shareBuffer(h.guest, 4 * 4096);
  assert.equal((await dbufCreate(h.ctx, createReq(3n, s.dir, 32, 96, 32, 3 * 4096))).status, -XEN_EINVAL);
  // A directory that ends early (needs 2 pages, the link is 0).
  s = shareBuffer(h.guest, 1100 * 4096);
  writeU32(h.guest.page(s.dirRefs[0]!), 0, 0);
  assert.equal((await dbufCreate(h.ctx, createReq(4n, s.dir, 1024, 1100, 32, 1100 * 4096))).status, -XEN_EINVAL);
  // A directory whose second page links back to the first: the walk reads exactly 2 pages anyway.
  s = shareBuffer(h.guest, 1100 * 4096);
  assert.equal(readU32(h.guest.page(s.dirRefs[1]!), 0), 0);
  writeU32(h.guest.page(s.dirRefs[1]!), 0, s.dirRefs[0]!);
  assert.equal((await dbufCreate(h.ctx, createReq(5n, s.dir, 1024, 1100, 32, 1100 * 4096))).status, -XEN_EINVAL);
  // A listed page the guest never granted (or revoked).
  s = shareBuffer(h.guest, 2 * 4096);
  h.guest.revoke(s.data[1]!);
  assert.equal((await dbufCreate(h.ctx, createReq(6n, s.dir, 32, 64, 32, 2 * 4096))).status, -XEN_EINVAL);
  // Unknown directory ref.
  assert.equal((await dbufCreate(h.ctx, createReq(7n, 999999 as GrantRef, 16, 16, 32))).status, -XEN_EINVAL);
  // Nothing leaked by the failures: one buffer, one mapping.
  assert.equal(h.platform.resources().grantMappings, 1);
  assert.deepEqual(h.ctx.registry.counts(), { buffers: 1, framebuffers: 0, pages: 1 });
  // REQ_ALLOC on a device the toolstack did not allow be-alloc on is a stale bit (Linux ORs it into
  // the slot's old contents): the frontend's own pages are mapped, nothing is allocated for it.
  s = shareBuffer(h.guest, 4096);
  assert.equal((await dbufCreate(h.ctx, createReq(8n, s.dir, 16, 16, 32, undefined, { beAlloc: true }))).status, 0);
  assert.equal(h.platform.resources().grantMappings, 2);
  assert.equal(h.platform.resources().grantedBuffers, 0);
});

void test('quotas: buffers, pages per buffer, pages per device, framebuffers, pending flips', async () => {
  const q = parseQuotas('buffers=2,buffer-pages=4,pages=6,framebuffers=2,pending-flips=1');
  assert.deepEqual(
    { ...q },
    { ...DEFAULT_QUOTAS, maxBuffers: 2, maxBufferPages: 4, maxMappedPages: 6, maxFramebuffers: 2, maxPendingFlips: 1 },
  );
  assert.throws(() => parseQuotas('nope=1'), /unknown/);
  assert.throws(() => parseQuotas('pages=x'), /KEY=NUMBER/);
  const h = harness({ quotas: q });
  assert.equal(await create(h, 1n, 32, 5 * 32, 32), -XEN_E2BIG); // 5 pages > 4
  assert.equal(await create(h, 1n, 32, 4 * 32, 32), 0); // 4 pages
  assert.equal(await create(h, 2n, 32, 3 * 32, 32), -XEN_ENOMEM); // 4 + 3 > 6
  assert.equal(await create(h, 2n, 32, 2 * 32, 32), 0); // 6
  assert.equal(await create(h, 3n, 8, 8, 32), -XEN_ENOMEM); // third buffer
  assert.equal(dbufDestroy(h.ctx, { kind: 'dbuf-destroy', dbufCookie: cookie(2n) }), 0);
  assert.equal(await create(h, 3n, 32, 2 * 32, 32), 0, 'destroy gave the quota back');
  assert.equal(attach(h, 1n, 10n, 32, 32), 0);
  assert.equal(attach(h, 1n, 11n, 32, 32), 0);
  assert.equal(attach(h, 3n, 12n, 32, 32), -XEN_ENOMEM);
  // One flip may wait; the second is -EBUSY until the first completes.
  await h.conn.output.setConfig({
    fb: h.ctx.registry.framebuffer(cookie(10n))!.desc,
    x: 0,
    y: 0,
    width: 32,
    height: 32,
  });
  h.conn.scanout = { fbCookie: cookie(10n), x: 0, y: 0, width: 32, height: 32, srcX: 0, srcY: 0 };
  const flips = fakeFlips();
  assert.equal(pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(11n) }, flips), 0);
  assert.equal(pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(11n) }, flips), -XEN_EBUSY);
  await h.outputs.close();
});

void test('FB_ATTACH: unknown dbuf, duplicate fb, size checks in 64-bit math with the frontend pitch', async () => {
  const h = harness();
  // RGB565, odd width: the frontend's pitch is ceil(33*16/8) = 66 bytes, no alignment.
  assert.equal(await create(h, 1n, 33, 10, 16), 0);
  assert.equal(attach(h, 9n, 10n, 33, 10, RGB565), -XEN_ENOENT);
  assert.equal(attach(h, 1n, 10n, 33, 10, RGB565), 0);
  assert.equal(h.ctx.registry.framebuffer(cookie(10n))!.desc.pitch, 66);
  assert.equal(attach(h, 1n, 10n, 33, 10, RGB565), -XEN_EEXIST);
  // One more row than buffer_sz holds.
  assert.equal(attach(h, 1n, 11n, 33, 11, RGB565), -XEN_EINVAL);
  // Wider rows than the pitch (XRGB on a 16 bpp buffer).
  assert.equal(attach(h, 1n, 12n, 33, 5, XRGB), -XEN_EINVAL);
  // Sizes past the host limit.
  assert.equal(attach(h, 1n, 13n, 9000, 1, RGB565), -XEN_EINVAL);
  assert.equal(attach(h, 1n, 14n, 0xffffffff, 0xffffffff, RGB565), -XEN_EINVAL);
  assert.equal(h.ctx.registry.counts().framebuffers, 1);
});

void test('zero-geometry (PRIME import) buffers take their geometry, packed, at FB_ATTACH', async () => {
  const h = harness();
  const { dir } = shareBuffer(h.guest, 3 * 4096);
  const r = await dbufCreate(h.ctx, createReq(1n, dir, 0, 0, 0, 3 * 4096, { dataOfs: 256 }));
  assert.equal(r.status, 0);
  assert.equal(h.ctx.registry.buffer(cookie(1n))!.geometry, null);
  // 40 x 70 XRGB from offset 256: 256 + 160*69 + 160 = 11456 <= 12288.
  assert.equal(attach(h, 1n, 10n, 40, 70), 0);
  const fb = h.ctx.registry.framebuffer(cookie(10n))!;
  assert.equal(fb.desc.pitch, 160);
  assert.equal(fb.desc.offset, 256);
  // 40 x 76: 256 + 160*75 + 160 = 12416 > 12288.
  assert.equal(attach(h, 1n, 11n, 40, 76), -XEN_EINVAL);
  // be-alloc flag on an import (a Linux quirk) is refused even where be-alloc is allowed.
  const hb = harness({ beAlloc: true });
  const s = shareBuffer(hb.guest, 4096);
  assert.equal((await dbufCreate(hb.ctx, createReq(1n, s.dir, 0, 0, 0, 4096, { beAlloc: true }))).status, -XEN_EINVAL);
});

void test('be-alloc: our pages, granted to the frontend, refs written into its directory before the answer', async () => {
  const h = harness({ beAlloc: true });
  const n = 1100; // two directory pages
  const dirRefs = h.guest.grantPages(2);
  // The frontend links its directory pages and leaves gref[] for us.
  writePageDirectory(
    dirRefs.map((r) => h.guest.page(r)),
    dirRefs,
    new Array<GrantRef>(n).fill(1 as GrantRef),
  );
  const r = await dbufCreate(h.ctx, createReq(1n, dirRefs[0]!, 1024, 1100, 32, n * 4096, { beAlloc: true }));
  assert.equal(r.status, 0);
  const b = h.ctx.registry.buffer(cookie(1n))!;
  assert.equal(b.backing.kind, 'backend');
  const refs = b.backing.kind === 'backend' ? b.backing.granted.refs : [];
  assert.equal(refs.length, n);
  assert.equal(readU32(h.guest.page(dirRefs[0]!), 4), refs[0]);
  assert.equal(readU32(h.guest.page(dirRefs[0]!), 4 + 4 * 1022), refs[1022]);
  assert.equal(readU32(h.guest.page(dirRefs[1]!), 4 + 4 * 76), refs[1099]);
  assert.equal(readU32(h.guest.page(dirRefs[0]!), 0), dirRefs[1], 'links untouched');
  // The backend's pages are what outputs read.
  h.platform.backendGrants.get(refs[2]!)![0] = 0x77;
  assert.equal(b.source.bytes[2 * 4096], 0x77);
  assert.equal(h.platform.resources().grantedBuffers, 1);
  assert.equal(h.platform.resources().grantMappings, 0, 'directory pages unmapped after writing');
  // A directory the frontend broke (early end): the grant is taken back.
  const bad = h.guest.grantPages(1);
  writeU32(h.guest.page(bad[0]!), 0, 0);
  const r2 = await dbufCreate(h.ctx, createReq(2n, bad[0]!, 1024, 1100, 32, n * 4096, { beAlloc: true }));
  assert.equal(r2.status, -XEN_EINVAL);
  assert.equal(h.platform.resources().grantedBuffers, 1);
  assert.equal(dbufDestroy(h.ctx, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) }), 0);
  assert.equal(h.platform.resources().grantedBuffers, 0);
});

void test('DBUF_DESTROY with framebuffers attached detaches them from outputs first; FB_DETACH unknown is ENOENT', async () => {
  const h = harness();
  assert.equal(await create(h, 1n, 64, 48), 0);
  assert.equal(attach(h, 1n, 10n, 64, 48), 0);
  assert.equal(attach(h, 1n, 11n, 32, 24), 0);
  const fb = h.ctx.registry.framebuffer(cookie(10n))!;
  assert.equal(
    await setConfig(h.ctx, h.conn, {
      kind: 'set-config',
      config: { fbCookie: cookie(10n), x: 0, y: 0, width: 64, height: 48, bpp: 32 },
    }),
    0,
  );
  assert.equal(h.outputs.resources().framebuffers, 1);
  assert.equal(fbDetach(h.ctx, { kind: 'fb-detach', fbCookie: cookie(99n) }), -XEN_ENOENT);
  assert.equal(dbufDestroy(h.ctx, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) }), 0);
  assert.equal(h.outputs.resources().framebuffers, 0, 'the output let go of the shown framebuffer');
  assert.deepEqual(h.ctx.registry.counts(), { buffers: 0, framebuffers: 0, pages: 0 });
  // The last picture stays on screen: the output holds the pages (no copy on the request's turn).
  assert.equal(h.platform.resources().grantMappings, 1, 'the shown buffer stays mapped');
  assert.ok(h.conn.output.currentFrame(), 'it still shows the last picture');
  assert.equal(dbufDestroy(h.ctx, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) }), -XEN_ENOENT);
  await h.conn.output.setConfig(null);
  assert.equal(h.platform.resources().grantMappings, 0, 'unmapped once the screen moves off it');
  assert.equal(fb.dbuf.backing.kind === 'frontend' && fb.dbuf.backing.mapping.bytes.length, 0, 'the mapping is closed');
  await h.outputs.close();
});

void test('SET_CONFIG bounds and PG_FLIP preconditions', async () => {
  const h = harness();
  assert.equal(await create(h, 1n, 640, 480), 0);
  assert.equal(attach(h, 1n, 10n, 640, 480), 0);
  const sc = (x: number, y: number, w: number, ht: number, bpp = 32, fb = 10n) =>
    setConfig(h.ctx, h.conn, { kind: 'set-config', config: { fbCookie: cookie(fb), x, y, width: w, height: ht, bpp } });
  const flips = fakeFlips();
  assert.equal(pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(10n) }, flips), -XEN_EINVAL, 'connector off');
  assert.equal(await sc(0, 0, 640, 480, 32, 77n), -XEN_ENOENT);
  assert.equal(await sc(1, 0, 640, 480), -XEN_EINVAL, 'x + width beyond the resolution');
  assert.equal(await sc(0, 0xffffffff, 640, 480), -XEN_EINVAL);
  assert.equal(await sc(0, 0, 640, 480, 16), -XEN_EINVAL, 'bpp of another format');
  assert.equal(await sc(0, 0, 640, 480), 0);
  assert.ok(h.conn.scanout);
  assert.equal(pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(77n) }, flips), -XEN_ENOENT);
  assert.equal(attach(h, 1n, 11n, 320, 240), 0);
  assert.equal(
    pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(11n) }, flips),
    -XEN_EINVAL,
    'smaller than the viewport',
  );
  assert.equal(pgFlip(h.ctx, h.conn, { kind: 'pg-flip', fbCookie: cookie(10n) }, flips), 0);
  assert.deepEqual(flips.queued, [cookie(10n)]);
  assert.equal(await setConfig(h.ctx, h.conn, { kind: 'set-config', config: null }), 0);
  assert.equal(h.conn.scanout, null);
  assert.equal(h.conn.output.currentFrame(), undefined);
  await h.outputs.close();
});

void test('GET_EDID writes an EDID for the connector resolution into the guest buffer', async () => {
  const h = harness();
  const { dir, data } = shareBuffer(h.guest, 32768);
  const r = await getEdid(h.ctx, h.conn, { kind: 'get-edid', bufferSz: 32768, grefDirectory: dir });
  assert.equal(r.status, 0);
  assert.equal(r.edidSz, 128);
  const edid = h.guest.page(data[0]!).slice(0, 128);
  assert.ok(edidChecksumsOk(edid));
  const t = preferredTiming(edid);
  assert.equal(t?.hActive, 640);
  assert.equal(t?.vActive, 480);
  assert.equal(h.platform.resources().grantMappings, 0);
  // A directory naming pages the guest did not grant.
  const bad = await getEdid(h.ctx, h.conn, { kind: 'get-edid', bufferSz: 32768, grefDirectory: 424242 as GrantRef });
  assert.equal(bad.status, -XEN_EINVAL);
});

void test('a creation still mapping when the connection goes away releases what it mapped', async () => {
  const h = harness();
  const { dir } = shareBuffer(h.guest, 4096);
  let open!: () => void;
  h.platform.mapGate = new Promise((r) => (open = r));
  const p = dbufCreate(h.ctx, createReq(1n, dir, 16, 16, 32));
  h.ctx.live = false;
  h.ctx.registry.drain();
  h.platform.mapGate = undefined;
  open();
  const r = await p;
  assert.notEqual(r.status, 0);
  assert.equal(h.platform.resources().grantMappings, 0);
  assert.deepEqual(h.ctx.registry.counts(), { buffers: 0, framebuffers: 0, pages: 0 });
});
