// sd_notify without libsystemd: the datagrams systemd would receive, on a socket this test binds
// in systemd's place (a path and an abstract name), and the failure and watchdog rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { POLL_READABLE } from '../../src/native/fd.js';
import { sdNotifier } from '../../src/native/sd-notify.js';

const n = native();

/** Plays systemd: collects datagrams until `count` arrived. */
async function receive(socketPath: string, count: number, send: () => void): Promise<string[]> {
  const fd = n.bindNotifySocket(socketPath);
  const got: string[] = [];
  let poller: ReturnType<typeof makePoller> | undefined;
  function makePoller(done: () => void) {
    const p = new n.FdPoller(fd, () => {
      const buf = new Uint8Array(4096);
      for (;;) {
        const r = n.readFd(fd, buf, 0, buf.length);
        if (r <= 0) break;
        got.push(Buffer.from(buf.subarray(0, r)).toString());
      }
      if (got.length >= count) done();
    });
    p.start(POLL_READABLE);
    return p;
  }
  try {
    await new Promise<void>((resolve) => {
      poller = makePoller(resolve);
      send();
    });
  } finally {
    poller?.close();
    n.closeDevice(fd);
  }
  return got;
}

void test('READY, STATUS, WATCHDOG and STOPPING reach $NOTIFY_SOCKET as systemd expects them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-notify-'));
  const path = join(dir, 'notify');
  try {
    const sd = sdNotifier({ NOTIFY_SOCKET: path });
    assert.equal(sd.enabled, true);
    const got = await receive(path, 4, () => {
      sd.ready('serving 2 guests');
      sd.status('guest 3\nconnected');
      sd.watchdog();
      sd.stopping();
    });
    assert.deepEqual(got, [
      'READY=1\nSTATUS=serving 2 guests\n',
      'STATUS=guest 3 connected\n',
      'WATCHDOG=1\n',
      'STOPPING=1\n',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('an abstract-namespace socket (@name) works too', async () => {
  const name = `@vdispld-test-${process.pid}-${Date.now()}`;
  const got = await receive(name, 1, () => sdNotifier({ NOTIFY_SOCKET: name }).ready());
  assert.deepEqual(got, ['READY=1\n']);
});

void test('without NOTIFY_SOCKET nothing is sent; a dead socket is reported once, never thrown', () => {
  const sent: string[] = [];
  const off = sdNotifier({}, { send: (_s, m) => sent.push(m) });
  off.ready();
  off.watchdog();
  assert.equal(off.enabled, false);
  assert.deepEqual(sent, []);

  const errors: unknown[] = [];
  const dead = sdNotifier({ NOTIFY_SOCKET: '/nonexistent/vdispld/notify' }, { onError: (e) => errors.push(e) });
  dead.watchdog();
  dead.watchdog();
  dead.ready();
  assert.equal(errors.length, 2, 'one report per kind of message');
  assert.match(
    String(errors[0]),
    /NOTIFY_SOCKET \/nonexistent\/vdispld\/notify: sendto: No such file or directory \(ENOENT\) — \$NOTIFY_SOCKET names a socket nobody listens on/,
  );
});

void test('watchdog interval: half of WATCHDOG_USEC, only for our pid', () => {
  const base = { NOTIFY_SOCKET: '/run/x' };
  assert.equal(sdNotifier({ ...base, WATCHDOG_USEC: '10000000' }).watchdogIntervalMs(), 5000);
  assert.equal(
    sdNotifier({ ...base, WATCHDOG_USEC: '10000000', WATCHDOG_PID: '42' }, { pid: 42 }).watchdogIntervalMs(),
    5000,
  );
  assert.equal(
    sdNotifier({ ...base, WATCHDOG_USEC: '10000000', WATCHDOG_PID: '43' }, { pid: 42 }).watchdogIntervalMs(),
    undefined,
  );
  assert.equal(sdNotifier({ ...base, WATCHDOG_USEC: 'soon' }).watchdogIntervalMs(), undefined);
  assert.equal(sdNotifier({ WATCHDOG_USEC: '10000000' }).watchdogIntervalMs(), undefined);
});
