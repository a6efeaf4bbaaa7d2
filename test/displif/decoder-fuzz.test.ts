// A million random 64-byte slots through the request decoder. Nothing may throw; every result is
// either a valid request, which re-encodes to a slot that decodes to the same request, or a failure that
// echoes id and operation and carries one of the errnos the decoder may answer with. Half the slots
// are shaped like real requests (zero header, known operation, plausible fields) so the deep
// checks are reached, not just the first reserved-byte test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeRequest, OP_OF_KIND } from '../../src/displif/requests.js';
import { readU16, writeU32 } from '../../src/displif/bytes.js';
import { Op, XEN_E2BIG, XEN_EINVAL, XEN_ENOSYS } from '../../src/displif/constants.js';
import { PIXEL_FORMATS } from '../../src/displif/formats.js';
import { hex, xorshift32 } from './helpers.js';

const SLOTS = 1_000_000;
const SEED = Number(process.env.VDISPLD_FUZZ_SEED ?? 0x0d15b1a5);
const ALLOWED_ERRNOS = new Set([-XEN_EINVAL, -XEN_ENOSYS, -XEN_E2BIG]);
const OPS = Object.values(Op);

void test(`${SLOTS} random slots: no exception, each result a canonical request or an errno (seed ${SEED})`, () => {
  const rnd = xorshift32(SEED);
  const slot = new Uint8Array(64);
  const again = new Uint8Array(64);
  const accepted = new Map<string, number>();
  const reasons = new Map<string, number>();

  /** A u32 that is often one of the values validation cares about. */
  const field = (): number => {
    const r = rnd();
    switch (r & 7) {
      case 0:
        return 0;
      case 1:
        return 1 + (rnd() & 0xff);
      case 2:
        return 1 + (rnd() & 0xfff);
      case 3:
        return rnd();
      case 4:
        return PIXEL_FORMATS[rnd() % PIXEL_FORMATS.length]!.fourcc;
      case 5:
        return [16, 24, 32][rnd() % 3]!;
      default:
        return 1 + (rnd() & 0x3fffff);
    }
  };

  /** A DBUF_CREATE whose size is right, or off by a little: the size rule sits on a knife edge. */
  const shapeDbufCreate = (b: Uint8Array): void => {
    const w = 1 + (rnd() % 4095);
    const h = 1 + (rnd() % 2047);
    const bpp = [8, 16, 24, 32][rnd() & 3]!;
    const ofs = rnd() & 1 ? 0 : rnd() & 0xfff;
    const need = Math.ceil((w * bpp) / 8) * h + ofs;
    const slack = [0, 0, 1, -1, rnd() & 0xfff][rnd() % 5]!;
    for (const [o, v] of [
      [16, w],
      [20, h],
      [24, bpp],
      [28, need + slack],
      [32, rnd() & 1],
      [36, field()],
      [40, ofs],
    ] as const)
      writeU32(b, o, v);
  };

  const started = process.hrtime.bigint();
  for (let i = 0; i < SLOTS; i++) {
    if (i & 1) {
      for (let o = 0; o < 64; o += 4) writeU32(slot, o, rnd());
    } else {
      slot.fill(0);
      writeU32(slot, 0, (rnd() & 0xffff) | (((rnd() & 15) === 0 ? rnd() & 0xff : OPS[rnd() % OPS.length]!) << 16));
      const used = 8 + 4 * (1 + (rnd() % 9)); // fill a plausible prefix of the op area
      for (let o = 8; o < used; o += 4) writeU32(slot, o, field());
      if (slot[2] === Op.DBUF_CREATE && rnd() & 1) shapeDbufCreate(slot);
      if ((rnd() & 31) === 0) slot[3 + (rnd() % 61)] = 1 + (rnd() & 0x7f); // a stray reserved byte
    }
    const version = (i & 2) === 0 ? 2 : 1;
    let r;
    try {
      r = decodeRequest(slot, { version });
    } catch (e) {
      assert.fail(`decodeRequest threw on slot ${i} (${hex(slot)}): ${String(e)}`);
    }
    if (r.ok) {
      assert.equal(r.operation, OP_OF_KIND[r.req.kind]);
      assert.equal(r.id, readU16(slot, 0));
      // Stale bytes are ignored, so the property is: re-encoding and decoding again gives the same request.
      encodeRequest(r.req, r.id, again);
      const back = decodeRequest(again, { version });
      if (!back.ok || !sameRequest(back.req, r.req))
        assert.fail(`slot ${i} decoded to a request that does not survive re-encoding:\n${hex(slot)}\n${hex(again)}`);
      accepted.set(r.req.kind, (accepted.get(r.req.kind) ?? 0) + 1);
    } else {
      if (!ALLOWED_ERRNOS.has(r.errno) || r.id !== readU16(slot, 0) || r.operation !== slot[2] || !r.reason) {
        assert.fail(`bad failure for slot ${i} (${hex(slot)}): ${JSON.stringify(r)}`);
      }
      reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Reaching every kind and most rejection rules shows the generator exercises the decoder deeply.
  for (const kind of Object.keys(OP_OF_KIND))
    assert.ok((accepted.get(kind) ?? 0) > 100, `accepted ${kind}: ${accepted.get(kind) ?? 0}`);
  assert.ok(reasons.size >= 12, `distinct rejection reasons: ${[...reasons.keys()].join('; ')}`);
  console.log(
    `decoder fuzz: ${SLOTS} slots in ${seconds.toFixed(2)} s; accepted ${JSON.stringify(Object.fromEntries(accepted))}; ${reasons.size} rejection reasons`,
  );
});

function sameRequest(a: unknown, b: unknown): boolean {
  return (
    JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ===
    JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  );
}
