// A frontend that keeps failing: each new connection is offered later (100 ms doubling to 5 s), and
// its failures are logged in full only a few times, then one line in a hundred with the count. A
// hostile guest fails on purpose, including right after each successful connection, so neither may
// start again because the guest managed to connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { XenbusState as S } from '../../src/displif/constants.js';
import { SRING } from '../../src/displif/wire-layout.js';
import { writeU32 } from '../../src/displif/bytes.js';
import {
  FailureBackoff,
  HEALTHY_MS,
  LOUD_FAILURES,
  RETRY_BASE_MS,
  RETRY_MAX_MS,
  THIN_EVERY,
} from '../../src/backend/failure-backoff.js';
import { world, type World } from './helpers/xs-world.js';

interface Line {
  readonly level: number;
  readonly time: number;
  readonly msg: string;
  readonly failures?: number;
}

const parse = (lines: readonly string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

/** Lines at warn level and above. */
const loudLines = (lines: readonly string[]): Line[] => parse(lines).filter((l) => l.level >= 40);

/**
 * How long each new offer came after the Closed before it, from the device's own log lines (the
 * phase is logged just after the back-off is set, and again just after InitWait is written), so
 * neither the test's polling nor the machine's load shortens what is measured.
 */
function offerGaps(lines: readonly string[]): number[] {
  const gaps: number[] = [];
  let closedAt: number | undefined;
  for (const l of parse(lines)) {
    if (/^[a-z-]+ -> closed-retry/.test(l.msg)) closedAt = l.time;
    else if (closedAt !== undefined && /^closed-retry -> initwait/.test(l.msg)) {
      gaps.push(l.time - closedAt);
      closedAt = undefined;
    }
  }
  return gaps;
}

/** The i-th offer after a failure waits at least 100 ms * 2^i (log times are whole milliseconds). */
function assertBackoff(gaps: readonly number[], n: number): void {
  assert.equal(gaps.length, n, `offers after a failure: ${gaps.join(', ')}`);
  for (const [i, gap] of gaps.entries()) {
    const want = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** i);
    assert.ok(
      gap >= want - 1,
      `offer ${i + 2} came ${gap} ms after Closed, before its ${want} ms back-off (${gaps.join(', ')})`,
    );
  }
}

/** A world whose device logs into `lines`, the frontend seeing InitWait. */
async function loggedWorld(lines: string[]) {
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const w = await world('connectors=id0:64x48', { log });
  await w.fe.waitBackend(S.InitWait);
  return w;
}

/** What Linux does on backend Closed: back to Initialising, and wait for InitWait. */
async function restart(w: World): Promise<void> {
  await w.fe.waitBackend(S.Closed);
  await w.fe.setState(S.Initialising);
  await w.fe.waitBackend(S.InitWait, RETRY_MAX_MS + 5000);
}

void test('a frontend that connects and breaks its ring, again and again: each offer waits twice as long, three lines logged', async () => {
  const lines: string[] = [];
  const w = await loggedWorld(lines);
  try {
    for (let k = 1; k <= 5; k++) {
      await w.fe.publish(1);
      await w.fe.waitBackend(S.Connected);
      await w.fe.setState(S.Connected);
      // req_prod far beyond what the ring can hold: the connection is closed.
      writeU32(w.guest.page(w.fe.chans[0]!.ringRef), SRING.req_prod, 1000 + k);
      w.platform.fire(w.fe.chans[0]!.reqPort);
      await restart(w);
    }
    assertBackoff(offerGaps(lines), 5);
    const said = loudLines(lines).filter((l) => /ring protocol/.test(l.msg));
    assert.deepEqual(
      said.map((l) => l.failures),
      [1, 2, 3],
      `lines about the broken ring: ${JSON.stringify(said.map((l) => l.msg))}`,
    );
    assert.match(said[0]!.msg, /req_prod 1001/);
  } finally {
    await w.close();
  }
});

void test('a bad ring reference at every connection: the offers back off as well', async () => {
  const lines: string[] = [];
  const w = await loggedWorld(lines);
  try {
    for (let k = 1; k <= 4; k++) {
      // A ref the guest never granted: the connection cannot be made.
      await w.fe.publish(1, (key, v) => (key === '0/req-ring-ref' ? '4000' : v));
      await restart(w);
    }
    assertBackoff(offerGaps(lines), 4);
    assert.deepEqual(
      loudLines(lines)
        .filter((l) => /req-ring-ref/.test(l.msg))
        .map((l) => l.failures),
      [1, 2, 3],
    );
  } finally {
    await w.close();
  }
});

void test('1000 failures in a row: 3 + 10 log lines, each with its count; the delay doubles to its ceiling', () => {
  const b = new FailureBackoff();
  const logged: number[] = [];
  const delays: number[] = [];
  let now = 1_000_000;
  for (let i = 0; i < 1000; i++) {
    // Each failure right after a connection that lasted a second: not a working one.
    b.connected(now);
    now += 1000;
    const v = b.fail(now, true);
    if (v.loud) logged.push(v.count);
    delays.push(v.retryAfterMs!);
  }
  assert.deepEqual(logged, [1, 2, 3, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  assert.equal(logged.length, LOUD_FAILURES + 1000 / THIN_EVERY);
  assert.deepEqual(delays.slice(0, 8), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.ok(delays.every((d) => d <= RETRY_MAX_MS));
  // A dom0 configuration fault waits for no retry (the device stays failed until it changes).
  assert.equal(b.fail(now, false).retryAfterMs, undefined);
});

void test('a connection that worked for a while starts the count again', () => {
  const b = new FailureBackoff();
  for (let i = 0; i < 5; i++) b.fail(i, true);
  b.connected(100);
  const v = b.fail(100 + HEALTHY_MS, true);
  assert.deepEqual(v, { count: 1, loud: true, retryAfterMs: RETRY_BASE_MS });
  b.connected(200_000);
  assert.equal(b.fail(200_000 + HEALTHY_MS - 1, true).count, 2, 'one that did not is one more failure');
});
