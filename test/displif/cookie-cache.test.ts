// The decoder's cookie cache and the u64 halves under it: a cached cookie is exactly the value an
// uncached read gives, whatever the slot held before, and a request kept past later decodes keeps
// its values (the decoder hands out immutable bigints, never a buffer it reuses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieCache } from '../../src/displif/cookie-cache.js';
import { decodeRequest, type DecodeResult } from '../../src/displif/requests.js';
import { readU64, u64FromHalves, writeU32, writeU64 } from '../../src/displif/bytes.js';
import { Op } from '../../src/displif/constants.js';
import { formatByName } from '../../src/displif/formats.js';
import { xorshift32 } from './helpers.js';

const SEED = Number(process.env.VDISPLD_FUZZ_SEED ?? 0x5eed_c0c0);

/** The u64's definition in arithmetic, as the codec read it before the halves cell. */
const arith = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

const XRGB8888 = formatByName('XRGB8888')!.fourcc;

const show = (r: DecodeResult): string =>
  JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

void test('u64 halves: reads equal the arithmetic value, writes wrap modulo 2^64 as before', () => {
  const rnd = xorshift32(SEED);
  const b = new Uint8Array(16);
  const edges = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
  for (let i = 0; i < 20_000; i++) {
    const lo = i < 25 ? edges[i % 5]! : rnd();
    const hi = i < 25 ? edges[Math.floor(i / 5)]! : rnd();
    const v = arith(lo, hi);
    assert.equal(u64FromHalves(lo, hi), v);
    writeU32(b, 3, lo);
    writeU32(b, 7, hi);
    assert.equal(readU64(b, 3), v);
    b.fill(0xee);
    writeU64(b, 5, v);
    assert.equal(readU64(b, 5), v);
    assert.ok(b[4] === 0xee && b[13] === 0xee, 'neighbours untouched');
  }
  // Values outside u64 keep their low 64 bits, as the shift-and-mask writer did.
  for (const v of [-1n, -0x1234n, 1n << 64n, (1n << 70n) + 5n, -(1n << 63n)]) {
    writeU64(b, 0, v);
    assert.equal(readU64(b, 0), BigInt.asUintN(64, v));
  }
});

void test('cached cookies equal uncached ones for random slots, through hits, misses and collisions', () => {
  const rnd = xorshift32(SEED ^ 0xa5a5);
  const cache = new CookieCache();
  // A pool small enough to hit often and large enough (x4 the table) to collide and evict; the
  // first 16 share low halves and differ in high bits the slot hash ignores (same slot, other cookie).
  const pool = Array.from({ length: 256 }, (_, i): readonly [number, number] =>
    i < 16 ? [0xffff8880 + ((i & 3) << 8), (i >> 2) << 12] : [rnd(), rnd()],
  );
  const ops = [Op.PG_FLIP, Op.FB_ATTACH, Op.FB_DETACH, Op.DBUF_DESTROY, Op.SET_CONFIG];
  const slot = new Uint8Array(64);
  const accepted = new Map<string, number>();
  for (let i = 0; i < 50_000; i++) {
    for (let o = 0; o < 64; o += 4) writeU32(slot, o, rnd());
    slot[2] = ops[rnd() % ops.length]!;
    slot[3] = 0;
    for (const at of [8, 16]) {
      const [hi, lo] = pool[rnd() & 255]!;
      writeU32(slot, at, lo);
      writeU32(slot, at + 4, hi);
    }
    // Plausible sizes, format and bpp, so FB_ATTACH and SET_CONFIG get as far as their cookies.
    writeU32(slot, 24, 1 + (rnd() & 0xff));
    writeU32(slot, 28, 1 + (rnd() & 0xff));
    if (rnd() & 3) writeU32(slot, 32, slot[2] === Op.FB_ATTACH ? XRGB8888 : 32);
    const plain = decodeRequest(slot, { version: 2 });
    const cached = decodeRequest(slot, { version: 2, cookies: cache });
    assert.equal(show(cached), show(plain), `slot ${i}`);
    if (cached.ok) accepted.set(cached.req.kind, (accepted.get(cached.req.kind) ?? 0) + 1);
  }
  for (const kind of ['pg-flip', 'fb-attach', 'fb-detach', 'dbuf-destroy', 'set-config'])
    assert.ok((accepted.get(kind) ?? 0) > 1000, `${kind} decoded ${accepted.get(kind) ?? 0} times`);
});

void test('a decoded request kept past later decodes of the same buffer keeps its values', () => {
  const cache = new CookieCache();
  const slot = new Uint8Array(64);
  const flip = (lo: number, hi: number): DecodeResult => {
    slot.fill(0);
    slot[2] = Op.PG_FLIP;
    writeU32(slot, 8, lo);
    writeU32(slot, 12, hi);
    return decodeRequest(slot, { version: 2, cookies: cache });
  };
  const first = flip(0x1000, 0xffff8880);
  const kept = show(first);
  // The same cache slot with other cookies, then the same cookie again: the first result is untouched.
  for (let i = 1; i < 200; i++) flip(0x1000 + i * 64, 0xffff8880 ^ i);
  const again = flip(0x1000, 0xffff8880);
  assert.equal(show(first), kept);
  assert.ok(first.ok && again.ok && first.req.kind === 'pg-flip' && again.req.kind === 'pg-flip');
  assert.equal(again.req.fbCookie, first.req.fbCookie);
  assert.notEqual(first, again, 'each decode is its own result');
});
