// Responses and events: zero-filled slots, echoed id and operation, golden bytes, round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookie } from '../../src/util/ids.js';
import { decodeResponse, encodeResponse } from '../../src/displif/responses.js';
import { decodeEvent, encodeEvent } from '../../src/displif/events.js';
import { EvtType, Op, XEN_EINVAL, XEN_ENOENT } from '../../src/displif/constants.js';
import { hex } from './helpers.js';

void test('responses are zero-filled, echo id and operation, and carry a negative status', () => {
  const slot = new Uint8Array(64 * 3).fill(0xa5); // stale bytes a sloppy encoder would leak
  encodeResponse(slot, 64, { id: 0xbeef, operation: Op.FB_ATTACH, status: -XEN_ENOENT });
  assert.equal(hex(slot.subarray(64, 128)), 'efbe1200' + 'feffffff' + '00'.repeat(56));
  assert.ok(
    slot.subarray(0, 64).every((x) => x === 0xa5) && slot.subarray(128).every((x) => x === 0xa5),
    'neighbours untouched',
  );
  const d = decodeResponse(slot, 64);
  assert.deepEqual(d, { id: 0xbeef, operation: Op.FB_ATTACH, status: -XEN_ENOENT, edidSz: 0, reservedZero: true });
});

void test('GET_EDID responses carry edid_sz; other operations never do', () => {
  const b = new Uint8Array(64).fill(0xff);
  encodeResponse(b, 0, { id: 1, operation: Op.GET_EDID, status: 0, edidSz: 128 });
  assert.equal(hex(b), '0100160000000000' + '80000000' + '00'.repeat(52));
  assert.equal(decodeResponse(b).edidSz, 128);
  encodeResponse(b, 0, { id: 1, operation: Op.PG_FLIP, status: 0, edidSz: 128 });
  assert.equal(hex(b), '0100150000000000' + '00'.repeat(56));
});

void test('every operation byte, known or not, is echoed verbatim', () => {
  const b = new Uint8Array(64);
  for (let op = 0; op < 256; op++) {
    encodeResponse(b, 0, { id: op * 257, operation: op, status: -XEN_EINVAL });
    const d = decodeResponse(b);
    assert.equal(d.operation, op);
    assert.equal(d.id, op * 257);
    assert.equal(d.status, -XEN_EINVAL);
  }
});

void test('a positive status is a backend bug and never reaches the wire', () => {
  const b = new Uint8Array(64);
  assert.throws(() => encodeResponse(b, 0, { id: 1, operation: Op.PG_FLIP, status: XEN_EINVAL }), RangeError);
  assert.throws(() => encodeResponse(b, 0, { id: 1, operation: Op.PG_FLIP, status: -0.5 }), RangeError);
  assert.ok(b.every((x) => x === 0));
  assert.throws(() => encodeResponse(new Uint8Array(63), 0, { id: 1, operation: Op.PG_FLIP, status: 0 }), RangeError);
});

void test('decodeResponse notices non-zero reserved bytes', () => {
  const b = new Uint8Array(64);
  encodeResponse(b, 0, { id: 1, operation: Op.SET_CONFIG, status: 0 });
  b[3] = 1;
  assert.equal(decodeResponse(b).reservedZero, false);
  b[3] = 0;
  b[63] = 1;
  assert.equal(decodeResponse(b).reservedZero, false);
});

void test('PG_FLIP events: golden bytes and round trip', () => {
  const b = new Uint8Array(64).fill(0x5a);
  encodeEvent(b, 0, { type: EvtType.PG_FLIP, id: 0x0102, fbCookie: cookie(0x1122334455667788n) });
  assert.equal(hex(b), '0201000000000000' + '8877665544332211' + '00'.repeat(48));
  assert.deepEqual(decodeEvent(b), {
    type: EvtType.PG_FLIP,
    id: 0x0102,
    fbCookie: 0x1122334455667788n,
    reservedZero: true,
  });
  b[2] = 7;
  assert.deepEqual(decodeEvent(b), { type: 'unknown', rawType: 7, id: 0x0102 });
  b[2] = 0;
  b[5] = 1;
  assert.equal((decodeEvent(b) as { reservedZero: boolean }).reservedZero, false);
});
