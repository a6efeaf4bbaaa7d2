// Request codec: round trips, golden bytes, and every check of docs/PROTOCOL-NOTES.md that the
// decoder owns, each answered with the right negative errno and the id/operation echoed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookie, grantRef } from '../../src/util/ids.js';
import { decodeRequest, encodeRequest, type Request } from '../../src/displif/requests.js';
import { Op, XEN_E2BIG, XEN_EINVAL, XEN_ENOSYS, EDID_MAX_SIZE } from '../../src/displif/constants.js';
import { formatByName } from '../../src/displif/formats.js';
import { writeU32 } from '../../src/displif/bytes.js';
import { hex } from './helpers.js';

const XR24 = formatByName('XRGB8888')!;

const SAMPLES: Request[] = [
  {
    kind: 'dbuf-create',
    dbufCookie: cookie(0x0102030405060708n),
    geometry: { width: 1920, height: 1080, bpp: 32 },
    bufferSz: 1920 * 1080 * 4,
    beAlloc: false,
    grefDirectory: grantRef(0x55),
    dataOfs: 0,
  },
  {
    kind: 'dbuf-create',
    dbufCookie: cookie(0xffffffffffffffffn),
    geometry: null,
    bufferSz: 12345,
    beAlloc: true,
    grefDirectory: grantRef(0xffffffff),
    dataOfs: 4000,
  },
  {
    kind: 'dbuf-create',
    dbufCookie: cookie(1n),
    geometry: { width: 1366, height: 768, bpp: 24 },
    bufferSz: 4098 * 768,
    beAlloc: false,
    grefDirectory: grantRef(9),
    dataOfs: 0,
  },
  { kind: 'dbuf-destroy', dbufCookie: cookie(0xdeadbeefcafef00dn) },
  {
    kind: 'fb-attach',
    dbufCookie: cookie(7n),
    fbCookie: cookie(0x8000000000000000n),
    width: 800,
    height: 600,
    format: XR24,
  },
  { kind: 'fb-detach', fbCookie: cookie(2n) },
  { kind: 'set-config', config: { fbCookie: cookie(3n), x: 0, y: 0, width: 1024, height: 768, bpp: 32 } },
  { kind: 'set-config', config: null },
  { kind: 'pg-flip', fbCookie: cookie(0xffff888012345678n) },
  { kind: 'get-edid', bufferSz: EDID_MAX_SIZE, grefDirectory: grantRef(77) },
];

function encoded(req: Request, id = 0x1234): Uint8Array {
  const b = new Uint8Array(64).fill(0xee); // encoder must zero-fill
  encodeRequest(req, id, b);
  return b;
}

void test('every request kind round-trips through encode and decode', () => {
  for (const req of SAMPLES) {
    for (const id of [0, 1, 0x1234, 0xffff]) {
      const r = decodeRequest(encoded(req, id), { version: 2 });
      assert.ok(r.ok, `${req.kind}: ${r.ok ? '' : r.reason}`);
      assert.equal(r.id, id);
      assert.deepEqual(r.req, req);
    }
  }
});

void test('golden bytes', () => {
  assert.equal(
    hex(encoded(SAMPLES[0]!)),
    '3412100000000000' +
      '0807060504030201' +
      '80070000' +
      '38040000' +
      '20000000' +
      '00907e00' +
      '00000000' +
      '55000000' +
      '00000000' +
      '00'.repeat(20),
  );
  assert.equal(
    hex(encoded(SAMPLES[4]!, 0xabcd)),
    'cdab120000000000' +
      '0700000000000000' +
      '0000000000000080' +
      '20030000' +
      '58020000' +
      '58523234' +
      '00'.repeat(28),
  );
  assert.equal(hex(encoded(SAMPLES[8]!, 2)), '0200150000000000' + '78563412' + '8088ffff' + '00'.repeat(48));
  assert.equal(hex(encoded(SAMPLES[7]!, 9)), '0900140000000000' + '00'.repeat(56), 'SET_CONFIG off is all zeros');
});

/** Encodes `req`, lets `mutate` break it, decodes; asserts the failure, its errno and the echo. */
function rejects(
  req: Request,
  mutate: (b: Uint8Array) => void,
  errno: number,
  opts: { version: 1 | 2; connector?: number } = { version: 2 },
): string {
  const b = encoded(req, 0x4242);
  mutate(b);
  const r = decodeRequest(b, opts);
  assert.equal(r.ok, false, `expected a rejection of ${req.kind}`);
  if (r.ok) return '';
  assert.equal(r.errno, -errno, `${req.kind}: ${r.reason}`);
  assert.equal(r.id, 0x4242, 'id echoed');
  assert.equal(r.operation, b[2], 'operation echoed');
  return r.reason;
}

const [DBUF, PRIME, , DESTROY, ATTACH, DETACH, CONFIG, , FLIP, EDID] = SAMPLES as [
  Request,
  Request,
  Request,
  Request,
  Request,
  Request,
  Request,
  Request,
  Request,
  Request,
];

void test('stale bytes Linux leaves in a slot are ignored: reserved header, bytes past the fields, unknown flags', () => {
  // xen-drm-front fills requests in place over the previous response/request in the slot, so
  // these bytes carry old data; the request is the named fields alone.
  const ends: Record<string, number> = {
    'dbuf-create': 44,
    'dbuf-destroy': 16,
    'fb-attach': 36,
    'fb-detach': 16,
    'set-config': 36,
    'pg-flip': 16,
    'get-edid': 16,
  };
  for (const req of SAMPLES) {
    const clean = decodeRequest(encoded(req), { version: 2 });
    assert.ok(clean.ok, req.kind);
    const b = encoded(req);
    for (const at of [3, 4, 5, 6, 7]) b[at] = 0xa5;
    for (let at = ends[req.kind]!; at < 64; at++) b[at] = 0x80;
    const stale = decodeRequest(b, { version: 2 });
    assert.ok(stale.ok, `${req.kind} with stale bytes: ${stale.ok ? '' : stale.reason}`);
    assert.deepEqual(stale.req, clean.req, req.kind);
  }
  // A status of -EINVAL left at bytes 4..7 by the previous response, exactly as Linux leaves it.
  const b = encoded(FLIP);
  writeU32(b, 4, -XEN_EINVAL >>> 0);
  assert.ok(decodeRequest(b, { version: 1 }).ok);
});

void test('cookie 0 is refused wherever a cookie is carried', () => {
  const zero = (at: number) => (b: Uint8Array) => b.fill(0, at, at + 8);
  rejects(DBUF, zero(8), XEN_EINVAL);
  rejects(DESTROY, zero(8), XEN_EINVAL);
  rejects(ATTACH, zero(8), XEN_EINVAL);
  rejects(ATTACH, zero(16), XEN_EINVAL);
  rejects(DETACH, zero(8), XEN_EINVAL);
  rejects(FLIP, zero(8), XEN_EINVAL);
  rejects(CONFIG, zero(8), XEN_EINVAL); // cookie 0 is only legal in the all-zero "off" request
  // A cookie with only the high half set is not zero.
  const b = encoded(FLIP);
  b.fill(0, 8, 12);
  assert.ok(decodeRequest(b, { version: 2 }).ok);
});

void test('unknown operations and GET_EDID on v1 get -ENOSYS', () => {
  for (const op of [0, 1, 0x0f, 0x17, 0x80, 0xff]) rejects(FLIP, (b) => (b[2] = op), XEN_ENOSYS);
  rejects(EDID, () => {}, XEN_ENOSYS, { version: 1 });
  assert.ok(decodeRequest(encoded(EDID), { version: 2 }).ok);
});

void test('v1 connections still read data_ofs (Linux sends it without negotiating v2)', () => {
  const r = decodeRequest(encoded(PRIME), { version: 1 });
  assert.ok(r.ok);
  assert.equal(r.req.kind === 'dbuf-create' && r.req.dataOfs, 4000);
});

void test('buffer and framebuffer operations only on connector 0 when the ring is known', () => {
  for (const req of [DBUF, DESTROY, ATTACH, DETACH]) {
    rejects(req, () => {}, XEN_EINVAL, { version: 2, connector: 1 });
    assert.ok(decodeRequest(encoded(req), { version: 2, connector: 0 }).ok);
  }
  for (const req of [CONFIG, FLIP, EDID]) assert.ok(decodeRequest(encoded(req), { version: 2, connector: 3 }).ok);
});

void test('DBUF_CREATE sizes are checked in 64-bit arithmetic', () => {
  const set = (o: number, v: number) => (b: Uint8Array) => writeU32(b, o, v);
  const geometry =
    (w: number, h: number, bpp: number, size: number, ofs = 0) =>
    (b: Uint8Array) => {
      writeU32(b, 16, w);
      writeU32(b, 20, h);
      writeU32(b, 24, bpp);
      writeU32(b, 28, size);
      writeU32(b, 40, ofs);
    };
  // width * bpp = 2^35: a 32-bit pitch would wrap to 0 and "fit" in any buffer.
  rejects(DBUF, geometry(0x40000000, 1, 32, 4096), XEN_EINVAL);
  rejects(DBUF, geometry(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), XEN_E2BIG); // the page count is checked first
  // pitch * height = 2^32 + 4096 wraps to 4096 in 32 bits.
  rejects(DBUF, geometry(1024, 0x100001, 32, 8192), XEN_EINVAL);
  // Exactly full fits; one byte short does not; data_ofs counts.
  assert.ok(
    decodeRequest(
      encoded(DBUF).map((x) => x),
      { version: 2 },
    ).ok,
  );
  rejects(DBUF, geometry(1920, 1080, 32, 1920 * 1080 * 4 - 1), XEN_EINVAL);
  rejects(DBUF, geometry(1920, 1080, 32, 1920 * 1080 * 4, 1), XEN_EINVAL);
  const fits = encoded(DBUF);
  geometry(1920, 1080, 32, 1920 * 1080 * 4 + 64, 64)(fits);
  assert.ok(decodeRequest(fits, { version: 2 }).ok);
  // The frontend's pitch rule is ceil(width * bpp / 8), unaligned: RGB888 1366 wide is 4098 bytes.
  const odd = encoded(SAMPLES[2]!);
  set(28, 4098 * 768 - 1)(odd);
  assert.equal(decodeRequest(odd, { version: 2 }).ok, false);
});

void test('DBUF_CREATE: geometry all zero or all set, flags, directory ref, page count', () => {
  rejects(DBUF, (b) => writeU32(b, 24, 0), XEN_EINVAL); // bpp 0 with width and height set
  rejects(DBUF, (b) => writeU32(b, 16, 0), XEN_EINVAL);
  // Unknown flag bits are stale slot contents, not a request: only REQ_ALLOC is read.
  const flagged = encoded(DBUF);
  writeU32(flagged, 32, 0x80000002);
  const f = decodeRequest(flagged, { version: 2 });
  assert.ok(f.ok && f.req.kind === 'dbuf-create' && f.req.beAlloc === false);
  rejects(DBUF, (b) => writeU32(b, 36, 0), XEN_EINVAL); // gref_directory 0
  rejects(PRIME, (b) => writeU32(b, 28, 0), XEN_EINVAL); // buffer_sz 0
  rejects(PRIME, (b) => writeU32(b, 40, 12345), XEN_EINVAL); // data_ofs at the end of the buffer
  // 65536 pages is what one gntdev request may map; one byte more is refused.
  const max = encoded(PRIME);
  writeU32(max, 28, 65536 * 4096);
  assert.ok(decodeRequest(max, { version: 2 }).ok);
  rejects(PRIME, (b) => writeU32(b, 28, 65536 * 4096 + 1), XEN_E2BIG);
  rejects(PRIME, (b) => writeU32(b, 28, 0xffffffff), XEN_E2BIG);
});

void test('FB_ATTACH: size and pixel format', () => {
  rejects(ATTACH, (b) => writeU32(b, 24, 0), XEN_EINVAL);
  rejects(ATTACH, (b) => writeU32(b, 28, 0), XEN_EINVAL);
  rejects(ATTACH, (b) => writeU32(b, 32, 0), XEN_EINVAL);
  rejects(ATTACH, (b) => b.set([0x4e, 0x56, 0x31, 0x32], 32), XEN_EINVAL); // NV12: two planes, not offered
  for (const name of ['RGB565', 'RGB888', 'ARGB8888', 'XRGB4444', 'ARGB4444', 'XRGB1555', 'ARGB1555', 'YUYV']) {
    const r = decodeRequest(
      encoded({ ...(ATTACH as Extract<Request, { kind: 'fb-attach' }>), format: formatByName(name)! }),
      { version: 2 },
    );
    assert.ok(r.ok && r.req.kind === 'fb-attach' && r.req.format.name === name);
  }
});

void test('SET_CONFIG: all zeros turns off; anything else needs a cookie, a size and a scanout bpp', () => {
  rejects(CONFIG, (b) => writeU32(b, 24, 0), XEN_EINVAL);
  rejects(CONFIG, (b) => writeU32(b, 28, 0), XEN_EINVAL);
  for (const bpp of [0, 8, 12, 31, 33, 64]) rejects(CONFIG, (b) => writeU32(b, 32, bpp), XEN_EINVAL);
  for (const bpp of [16, 24, 32])
    assert.ok(
      decodeRequest(
        encoded(CONFIG).map((x, i) => (i === 32 ? bpp : x)),
        { version: 2 },
      ).ok,
    );
  // x/y alone non-zero with cookie 0 is not "off".
  const off = encoded(SAMPLES[7]!);
  writeU32(off, 16, 5);
  assert.equal(decodeRequest(off, { version: 2 }).ok, false);
});

void test('GET_EDID: at least XENDISPL_EDID_MAX_SIZE bytes and a directory', () => {
  rejects(EDID, (b) => writeU32(b, 8, EDID_MAX_SIZE - 1), XEN_EINVAL);
  rejects(EDID, (b) => writeU32(b, 12, 0), XEN_EINVAL);
  rejects(EDID, (b) => writeU32(b, 8, 0xffffffff), XEN_E2BIG);
});

void test('a short buffer is a failure, not an exception', () => {
  const r = decodeRequest(new Uint8Array(10), { version: 2 });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.errno, -XEN_EINVAL);
});

void test('the operation echoed on success is the request operation', () => {
  for (const req of SAMPLES) {
    const b = encoded(req);
    const r = decodeRequest(b, { version: 2 });
    assert.ok(r.ok);
    assert.equal(r.operation, b[2]);
  }
  assert.equal(Op.DBUF_CREATE, encoded(DBUF)[2]);
});
