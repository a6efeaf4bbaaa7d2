// The addon's ring steps (native/src/ring_step.cc) against the same steps built from the four
// SharedMemory operations (src/displif/ring-step.ts), which the ring tests and the fuzzer check:
// on hostile indices and slots both must copy the same bytes, leave the same state and write the
// same indices. Then the addon's own refusals of a bad geometry, state or view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { newRingState, portableRingStep, RingState } from '../../src/displif/ring-step.js';
import { nativeSharedMemory, plainSharedMemory } from '../../src/displif/shared-memory.js';
import { PAGE_SIZE, RING_SIZE, SLOT_SIZE } from '../../src/displif/constants.js';
import { readU32, writeU32 } from '../../src/displif/bytes.js';
import { prng } from '../../src/sim/frontend/hostile.js';

function u32(rand: () => number): number {
  return Math.floor(rand() * 0x100000000) >>> 0;
}

void test('native and portable steps agree on hostile rings, step after step', () => {
  const rand = prng(0x21);
  const m = native().mapAnonymous(PAGE_SIZE);
  try {
    const shared = new Uint8Array(m.buffer);
    const plainPage = new Uint8Array(PAGE_SIZE);
    const nat = nativeSharedMemory(shared).ringStep!;
    const por = portableRingStep(plainSharedMemory(plainPage));
    let violations = 0;
    let copiedTotal = 0;
    for (let trial = 0; trial < 400; trial++) {
      for (let i = 0; i < PAGE_SIZE; i++) shared[i] = (rand() * 256) | 0;
      const start = trial % 3 === 0 ? 0xffffffff - ((rand() * 40) | 0) : u32(rand);
      const sN = newRingState(start);
      const sP = newRingState(start);
      for (let round = 0; round < 6; round++) {
        // The guest moves req_prod: mostly plausibly, sometimes anywhere.
        const cons = sN[RingState.reqCons]!;
        const prod = rand() < 0.8 ? (cons + ((rand() * (RING_SIZE + 2)) | 0)) >>> 0 : u32(rand);
        writeU32(shared, 0, prod);
        writeU32(shared, 12, rand() < 0.5 ? (sN[RingState.rspProdPvt]! + 1) >>> 0 : u32(rand));
        plainPage.set(shared);
        const max = 1 + ((rand() * RING_SIZE) | 0);
        const outN = new Uint8Array(RING_SIZE * SLOT_SIZE);
        const outP = new Uint8Array(RING_SIZE * SLOT_SIZE);
        const n = nat.consume(sN, outN, max);
        const p = por.consume(sP, outP, max);
        assert.equal(n, p, `trial ${trial} round ${round}: count`);
        assert.deepEqual([...sN], [...sP], `trial ${trial} round ${round}: state`);
        assert.deepEqual(outN, outP, `trial ${trial} round ${round}: copies`);
        assert.deepEqual(shared, plainPage, `trial ${trial} round ${round}: page writes`);
        if (n < 0) {
          violations++;
          break;
        }
        copiedTotal += n;
        // Answer some of what was taken, then publish.
        const outstanding = (sN[RingState.reqCons]! - sN[RingState.rspProdPvt]!) >>> 0;
        const answered = (rand() * (outstanding + 1)) | 0;
        sN[RingState.rspProdPvt] = sP[RingState.rspProdPvt] = (sN[RingState.rspProdPvt]! + answered) >>> 0;
        assert.equal(nat.publish(sN), por.publish(sP), `trial ${trial} round ${round}: notify`);
        assert.deepEqual([...sN], [...sP]);
        assert.equal(readU32(shared, 8), readU32(plainPage, 8));
      }
    }
    assert.ok(violations > 20 && copiedTotal > 1000, `exercised: ${violations} violations, ${copiedTotal} copies`);
  } finally {
    m.unmap();
  }
});

void test('the native step copies each slot once into private memory and re-arms req_event when dry', () => {
  const m = native().mapAnonymous(PAGE_SIZE);
  try {
    const page = new Uint8Array(m.buffer);
    const step = nativeSharedMemory(page).ringStep!;
    const st = newRingState(0);
    for (let i = 0; i < 3; i++) page.fill(i + 1, 64 + i * SLOT_SIZE, 64 + (i + 1) * SLOT_SIZE);
    writeU32(page, 0, 3);
    const out = new Uint8Array(RING_SIZE * SLOT_SIZE);
    assert.equal(step.consume(st, out, 2), 2, 'stops at max');
    assert.equal(st[RingState.more], 1);
    assert.equal(readU32(page, 4), 0, 'not dry: req_event untouched');
    assert.equal(step.consume(st, out, RING_SIZE), 1);
    assert.equal(st[RingState.more], 0);
    assert.equal(readU32(page, 4), 4, 'dry: req_event = req_cons + 1');
    page.fill(0xee, 64, 64 + 3 * SLOT_SIZE);
    assert.equal(out[0], 3, 'the copy is private: the guest rewriting the slot changes nothing');
  } finally {
    m.unmap();
  }
});

void test('the native step refuses a bad state, geometry or view instead of touching memory', () => {
  const n = native();
  const page = new Uint8Array(PAGE_SIZE);
  const out = new Uint8Array(RING_SIZE * SLOT_SIZE);
  assert.throws(() => n.ringConsume(page, new Uint32Array(4), out, 1), RangeError);
  assert.throws(() => n.ringConsume(page, new Int32Array(8) as unknown as Uint32Array, out, 1), TypeError);
  const odd = newRingState(0);
  odd[RingState.ringSize] = 33;
  assert.throws(() => n.ringConsume(page, odd, out, 1), RangeError);
  const big = newRingState(0);
  big[RingState.slotSize] = 4096;
  assert.throws(() => n.ringConsume(page, big, out, 1), RangeError, 'slots past the page');
  assert.throws(() => n.ringConsume(page, newRingState(0), new Uint8Array(63), 1), RangeError, 'out too small');
  assert.throws(() => n.ringPublish(new Uint8Array(8), newRingState(0)), RangeError);
});
