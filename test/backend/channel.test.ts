// The connector channel's timing guarantees: every request answered (a stuck asynchronous one with
// -ETIMEDOUT inside the frontend's 3000 ms), every flip's event sent even when the output never
// reports it, a bounded number of requests per turn, and a late success undone.
import { test } from 'node:test';
import { pino } from 'pino';
import assert from 'node:assert/strict';
import { XEN_ENOENT, XEN_ETIMEDOUT, LINUX_FE_REQUEST_TIMEOUT_MS } from '../../src/displif/constants.js';
import { formatByName } from '../../src/displif/formats.js';
import { writePageDirectory } from '../../src/displif/page-directory.js';
import { SRING } from '../../src/displif/wire-layout.js';
import { writeU32 } from '../../src/displif/bytes.js';
import { ASYNC_DEADLINE_MS, FLIP_EVENT_DEADLINE_MS, REQUEST_BUDGET } from '../../src/backend/connector-channel.js';
import type { FlipResult, FramebufferDesc, Output, OutputConfig } from '../../src/drm/output.js';
import { cookie } from '../../src/util/ids.js';
import { channelRig } from './helpers/channel-rig.js';
import { waitFor } from './helpers/test-frontend.js';

/** An output that accepts everything and never finishes anything: a hung display driver. */
class StuckOutput implements Output {
  readonly name = 'stuck';
  readonly modes = [{ width: 64, height: 64, refreshMilliHz: 60000, preferred: true }];
  flips: Array<(r: FlipResult) => void> = [];
  hangModeset = false;
  /** Finishes the hung modeset (a driver that came back), if one waits. */
  finishModeset: (() => void) | undefined;
  setConfig(_cfg: OutputConfig | null): Promise<void> {
    return this.hangModeset ? new Promise((resolve) => (this.finishModeset = resolve)) : Promise.resolve();
  }
  flip(_fb: FramebufferDesc, done: (r: FlipResult) => void): void {
    this.flips.push(done);
  }
  release(): void {}
  currentFrame(): undefined {
    return undefined;
  }
  pathOf() {
    return { path: 'none' as const };
  }
}

/** A logger whose lines are kept, parsed. */
function logLines() {
  const lines: { level: number; msg: string; op?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { lines, log };
}

function rig(output: Output, now?: () => number) {
  return channelRig(output, now ? { hooks: { now } } : {});
}

void test('a full ring of requests is served within the budget, ids and operations echoed', async () => {
  // A frozen clock: the time slice must not split the ring when this process is descheduled.
  const r = rig(new StuckOutput(), () => 0);
  assert.ok(REQUEST_BUDGET >= 32);
  for (let i = 0; i < 32; i++) r.front.writeRequest({ kind: 'fb-detach', fbCookie: cookie(BigInt(1000 + i)) }, 500 + i);
  r.front.pushRequests();
  r.ch.kick();
  r.poll();
  assert.equal(r.responses.length, 32);
  assert.deepEqual(
    r.responses.map((x) => x.id),
    Array.from({ length: 32 }, (_, i) => 500 + i),
  );
  assert.ok(r.responses.every((x) => x.status === -XEN_ENOENT && x.operation === 0x13 && x.reservedZero));
  assert.equal(r.ch.stats.requests, 32);
  await r.ch.stop();
});

void test('a modeset the output never finishes is answered -ETIMEDOUT inside the frontend timeout, logged; the ring goes on', async () => {
  const out = new StuckOutput();
  const { lines, log } = logLines();
  const r = channelRig(out, { hooks: { log } });
  assert.ok(ASYNC_DEADLINE_MS < LINUX_FE_REQUEST_TIMEOUT_MS);
  // A framebuffer to configure.
  const data = r.guest.grantPages(4);
  const dir = r.guest.grantPages(1);
  writePageDirectory([r.guest.page(dir[0]!)], dir, data);
  r.front.writeRequest(
    {
      kind: 'dbuf-create',
      dbufCookie: cookie(1n),
      geometry: { width: 64, height: 64, bpp: 32 },
      bufferSz: 16384,
      beAlloc: false,
      grefDirectory: dir[0]!,
      dataOfs: 0,
    },
    1,
  );
  r.front.writeRequest(
    {
      kind: 'fb-attach',
      dbufCookie: cookie(1n),
      fbCookie: cookie(2n),
      width: 64,
      height: 64,
      format: formatByName('XRGB8888')!,
    },
    2,
  );
  r.front.pushRequests();
  r.ch.kick();
  await waitFor('create and attach', () => (r.poll(), r.responses.length === 2));
  assert.deepEqual(
    r.responses.map((x) => x.status),
    [0, 0],
  );
  out.hangModeset = true;
  r.front.writeRequest(
    { kind: 'set-config', config: { fbCookie: cookie(2n), x: 0, y: 0, width: 64, height: 64, bpp: 32 } },
    3,
  );
  r.front.writeRequest({ kind: 'fb-detach', fbCookie: cookie(77n) }, 4);
  r.front.pushRequests();
  r.ch.kick();
  await waitFor('the stuck request answered', () => (r.poll(), r.responses.length === 4), 5000);
  // Only the deadline answers -ETIMEDOUT, and it is set well inside the frontend's wait.
  assert.equal(r.responses[2]!.status, -XEN_ETIMEDOUT);
  assert.equal(r.responses[3]!.status, -XEN_ENOENT, 'the next request is served after it');
  assert.equal(r.ch.stats.timeouts, 1);
  // The operator sees which request hung (the guest only got -ETIMEDOUT) ...
  assert.deepEqual(
    lines.map((l) => [l.level, l.op, l.msg]),
    [[40, 0x14, `set-config on connector id0 not finished within ${ASYNC_DEADLINE_MS} ms: answered -ETIMEDOUT`]],
  );
  // ... and whether it ever finished.
  out.hangModeset = false;
  out.finishModeset!();
  await waitFor('the late finish logged', () => lines.length === 2);
  assert.equal(lines[1]!.level, 30);
  assert.match(lines[1]!.msg, /^set-config answered -ETIMEDOUT finished after \d+ ms: undone$/);
  await r.ch.stop();
});

void test('a flip the output never reports still gets its event, counted as dropped', async () => {
  const out = new StuckOutput();
  const r = rig(out);
  const data = r.guest.grantPages(4);
  const dir = r.guest.grantPages(1);
  writePageDirectory([r.guest.page(dir[0]!)], dir, data);
  r.front.writeRequest(
    {
      kind: 'dbuf-create',
      dbufCookie: cookie(1n),
      geometry: { width: 64, height: 64, bpp: 32 },
      bufferSz: 16384,
      beAlloc: false,
      grefDirectory: dir[0]!,
      dataOfs: 0,
    },
    1,
  );
  r.front.writeRequest(
    {
      kind: 'fb-attach',
      dbufCookie: cookie(1n),
      fbCookie: cookie(2n),
      width: 64,
      height: 64,
      format: formatByName('XRGB8888')!,
    },
    2,
  );
  r.front.writeRequest(
    { kind: 'set-config', config: { fbCookie: cookie(2n), x: 0, y: 0, width: 64, height: 64, bpp: 32 } },
    3,
  );
  r.front.writeRequest({ kind: 'pg-flip', fbCookie: cookie(2n) }, 4);
  r.front.pushRequests();
  r.ch.kick();
  await waitFor('four responses', () => (r.poll(), r.responses.length === 4));
  assert.ok(r.responses.every((x) => x.status === 0));
  assert.equal(r.events.length, 0, 'no event before the flip completes');
  await waitFor('the flip event', () => (r.poll(), r.events.length === 1), FLIP_EVENT_DEADLINE_MS + 2000);
  assert.deepEqual([r.events[0]!.id, r.events[0]!.type === 0 && r.events[0]!.fbCookie], [0, cookie(2n)]);
  assert.equal(r.ch.stats.flipsDropped, 1);
  // The output's very late report is ignored: one event per flip.
  out.flips[0]!({ shown: true, timestampNs: 0n });
  r.poll();
  assert.equal(r.events.length, 1);
  assert.equal(r.ch.pending, 0);
  await r.ch.stop();
});

void test('a buffer mapped after its DBUF_CREATE was answered -ETIMEDOUT is released, not kept, and both logged', async () => {
  const { lines, log } = logLines();
  const r = channelRig(new StuckOutput(), { hooks: { log } });
  const data = r.guest.grantPages(4);
  const dir = r.guest.grantPages(1);
  writePageDirectory([r.guest.page(dir[0]!)], dir, data);
  let open!: () => void;
  r.platform.mapGate = new Promise((res) => (open = res));
  r.front.writeRequest(
    {
      kind: 'dbuf-create',
      dbufCookie: cookie(1n),
      geometry: { width: 64, height: 64, bpp: 32 },
      bufferSz: 16384,
      beAlloc: false,
      grefDirectory: dir[0]!,
      dataOfs: 0,
    },
    1,
  );
  r.front.pushRequests();
  r.ch.kick();
  await waitFor('timeout answer', () => (r.poll(), r.responses.length === 1), 5000);
  assert.equal(r.responses[0]!.status, -XEN_ETIMEDOUT);
  r.platform.mapGate = undefined;
  open();
  await waitFor('the late finish logged', () => lines.length === 2);
  assert.deepEqual(
    lines.map((l) => [l.level, l.op]),
    [
      [40, 0x10],
      [30, 0x10],
    ],
  );
  assert.match(lines[1]!.msg, /^dbuf-create answered -ETIMEDOUT finished after \d+ ms: undone$/);
  await r.ch.stop();
  assert.equal(r.ctx.registry.counts().buffers, 0);
  assert.equal(r.platform.resources().grantMappings, 0);
});

void test('an impossible req_prod is reported once and the ring is not read again', async () => {
  const r = rig(new StuckOutput());
  writeU32(r.guest.page(r.ringRef), SRING.req_prod, 40);
  r.ch.kick();
  r.ch.kick();
  assert.equal(r.violations.length, 1);
  assert.match(r.violations[0]!, /req_prod 40/);
  r.poll();
  assert.equal(r.responses.length, 0);
  await r.ch.stop();
});
