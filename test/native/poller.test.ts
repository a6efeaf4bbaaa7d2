// The libuv readiness poller over a real descriptor (a FIFO opened read-write, which is both ends
// of a pipe): readiness wakes the loop, reads never block, and close() is final.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { POLL_READABLE, WOULD_BLOCK } from '../../src/native/fd.js';

const n = native();

function withFifo(fn: (fd: number) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-poll-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const fd = n.openDevice(path, true, true);
  return fn(fd).finally(() => {
    n.closeDevice(fd);
    rmSync(dir, { recursive: true, force: true });
  });
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

void test('readable wakes the callback; the data is read without blocking; close is final', async () => {
  const before = n.nativeResources();
  await withFifo(async (fd) => {
    const buf = new Uint8Array(64);
    assert.equal(n.readFd(fd, buf, 0, 64), WOULD_BLOCK, 'empty FIFO would block');
    const got: string[] = [];
    let calls = 0;
    let wake: () => void = () => {};
    const poller = new n.FdPoller(fd, (status, events) => {
      calls++;
      assert.equal(status, 0);
      assert.equal(events & POLL_READABLE, POLL_READABLE);
      for (;;) {
        const r = n.readFd(fd, buf, 0, buf.length);
        if (r <= 0) break;
        got.push(Buffer.from(buf.subarray(0, r)).toString());
      }
      wake();
    });
    assert.equal(n.nativeResources().pollers, before.pollers + 1);
    poller.start(POLL_READABLE);
    const arrived = new Promise<void>((r) => (wake = r));
    assert.equal(n.writeFd(fd, Buffer.from('hello xenbus'), 0, 12), 12);
    await arrived;
    assert.deepEqual(got, ['hello xenbus']);

    poller.close();
    poller.close();
    assert.equal(n.nativeResources().pollers, before.pollers);
    const callsAtClose = calls;
    n.writeFd(fd, Buffer.from('late'), 0, 4);
    await tick();
    assert.equal(calls, callsAtClose, 'no callback after close()');
    assert.throws(() => poller.start(POLL_READABLE), /used after close/);
  });
  assert.deepEqual(n.nativeResources(), before);
});

void test('stop() pauses delivery and start() resumes it with the data still there', async () => {
  await withFifo(async (fd) => {
    let calls = 0;
    let wake: () => void = () => {};
    const poller = new n.FdPoller(fd, () => {
      calls++;
      const buf = new Uint8Array(16);
      while (n.readFd(fd, buf, 0, 16) > 0);
      wake();
    });
    try {
      poller.start(POLL_READABLE);
      poller.stop();
      n.writeFd(fd, Buffer.from('x'), 0, 1);
      await tick();
      assert.equal(calls, 0, 'stopped poller stays quiet');
      const arrived = new Promise<void>((r) => (wake = r));
      poller.start(POLL_READABLE);
      await arrived;
      assert.equal(calls, 1);
    } finally {
      poller.close();
    }
  });
});

void test('an unpollable descriptor is refused at construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-poll-'));
  try {
    const fd = n.openDevice(dir, false, true);
    try {
      // A directory cannot be polled by epoll: libuv says EPERM.
      assert.throws(() => new n.FdPoller(fd, () => {}), /uv_poll_init: .*EPERM/);
    } finally {
      n.closeDevice(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
