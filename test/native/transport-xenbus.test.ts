// The /dev/xen/xenbus transport: one frame per write() (the kernel drops what follows a complete
// message in one write), readiness from the poller, the exact error without the device, and a
// clean close. A FIFO opened read-write stands in for the device: what we write comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { WOULD_BLOCK } from '../../src/native/fd.js';
import { FrameWriter, xenbusTransport } from '../../src/xenstore/transport-xenbus.js';
import { selectTransport } from '../../src/xenstore/select-transport.js';
import { encodeMessage, XsType } from '../../src/xenstore/wire.js';

const frame = (reqId: number, payload: string): Buffer =>
  encodeMessage(XsType.READ, reqId, 0, Buffer.from(payload + '\0'));

void test('frames go out one per write, whatever the client’s chunking', () => {
  const a = frame(1, '/local/domain/0/backend/vdispl');
  const b = frame(2, 'domid');
  const c = frame(3, '/vm');
  const writes: Buffer[] = [];
  const w = new FrameWriter();
  w.push(Buffer.concat([a, b, c.subarray(0, 5)]));
  assert.equal(
    w.flush((bytes) => (writes.push(Buffer.from(bytes)), bytes.length)),
    true,
  );
  assert.deepEqual(writes, [a, b], 'two whole frames, the partial third waits');
  w.push(c.subarray(5));
  w.flush((bytes) => (writes.push(Buffer.from(bytes)), bytes.length));
  assert.deepEqual(writes, [a, b, c]);
  assert.equal(w.queuedBytes, 0);
});

void test('a partly accepted frame resumes where the device stopped; would-block keeps the queue', () => {
  const a = frame(7, 'x'.repeat(100));
  const b = frame(8, 'y');
  const writes: Buffer[] = [];
  const w = new FrameWriter();
  w.push(Buffer.concat([a, b]));
  let calls = 0;
  const drained = w.flush((bytes) => {
    calls++;
    if (calls === 1) {
      writes.push(Buffer.from(bytes.subarray(0, 40)));
      return 40;
    }
    return WOULD_BLOCK;
  });
  assert.equal(drained, false);
  assert.equal(w.queuedBytes, a.length + b.length - 40);
  w.flush((bytes) => (writes.push(Buffer.from(bytes)), bytes.length));
  assert.deepEqual(Buffer.concat(writes.slice(0, 2)), a, 'first frame completed across two writes');
  assert.deepEqual(writes[2], b, 'second frame on its own write');
  assert.throws(() => {
    const z = new FrameWriter();
    z.push(b);
    z.flush(() => 0);
  }, /accepted 0 bytes/);
});

void test(
  'without /dev/xen/xenbus: the open rejects with the device, errno and the fix',
  { skip: existsSync('/dev/xen/xenbus') ? 'this machine has /dev/xen/xenbus' : false },
  async () => {
    await assert.rejects(
      xenbusTransport('/dev/xen/xenbus').open({ onData: () => {}, onClose: () => {} }),
      /^Error: \/dev\/xen\/xenbus: open: No such file or directory \(ENOENT\) — not running in a Xen domain, or xenfs is not set up/,
    );
  },
);

void test('over a polled descriptor: requests out, replies in, close releases everything', async () => {
  const n = native();
  const before = n.nativeResources();
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-xenbus-'));
  const path = join(dir, 'xenbus');
  execFileSync('mkfifo', [path]);
  try {
    const received: Buffer[] = [];
    let closes = 0;
    let wake: () => void = () => {};
    // Through the client's own selection, as a driver domain would get it.
    const t = selectTransport('xenbus', { XENSTORED_PATH: path });
    assert.equal(t.description, `xenbus device ${path}`);
    const stream = await t.open({
      onData: (chunk) => {
        received.push(chunk);
        if (Buffer.concat(received).length >= want.length) wake();
      },
      onClose: () => closes++,
    });
    const want = Buffer.concat([frame(1, 'a'), frame(2, 'bb')]);
    const arrived = new Promise<void>((r) => (wake = r));
    stream.write(want);
    await arrived;
    assert.deepEqual(Buffer.concat(received), want);
    assert.equal(n.nativeResources().pollers, before.pollers + 1);
    stream.close();
    stream.close();
    stream.write(frame(3, 'dropped'));
    assert.equal(closes, 0, 'our own close is not reported to the sink');
    assert.deepEqual(n.nativeResources(), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
