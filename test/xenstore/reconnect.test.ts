// Connection loss: in-flight requests fail clearly, the client reconnects with back-off,
// re-registers its watches and fires each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, rejectsWith, waitFor } from './helpers.js';
import { FakeServer } from './fake-server.js';
import { startXenstored } from '../../src/sim/xenstored/index.js';
import { XenStoreClient } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';
import { selectTransport } from '../../src/xenstore/select-transport.js';

void test('xenstored restarts: requests fail with ECONNRESET, watches come back and fire once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-xs-re-'));
  const socketPath = join(dir, 'socket');
  let xsd = await startXenstored({ socketPath });
  const lines: string[] = [];
  const xs = await XenStoreClient.connect({
    transport: unixSocketTransport(socketPath),
    reconnect: { initialDelayMs: 5, maxDelayMs: 40 },
    log: (l) => lines.push(l),
  });
  try {
    const log = new EventLog();
    await xs.watch('/re', log.push);
    await xs.write('/re/a', '1');
    await log.until(2);

    await xsd.close();
    const err = await rejectsWith(xs.read('/re/a'), 'ECONNRESET', '/re/a');
    assert.match(err.message, /READ \/re\/a failed/);
    assert.equal(xs.stats().connected, false);
    // Down for a while: several failed attempts with growing delays.
    await new Promise((r) => setTimeout(r, 100));

    xsd = await startXenstored({ socketPath });
    assert.deepEqual(await log.until(3, 10_000), ['/re', '/re/a', '/re'], 'fired once after reconnecting');
    assert.equal(xs.stats().reconnects, 1);
    assert.equal(xsd.stats().watches, 1, 're-registered on the new daemon');
    await xs.write('/re/b', '2');
    assert.deepEqual(await log.until(4), ['/re', '/re/a', '/re', '/re/b']);
    assert.ok(
      lines.some((l) => l.includes('reconnected')),
      lines.join('\n'),
    );
  } finally {
    await xs.close();
    await xsd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('requests in flight when the connection drops fail with a clear error', async () => {
  const srv = await FakeServer.start(() => undefined); // never answers
  const xs = await XenStoreClient.connect({ transport: unixSocketTransport(srv.path), reconnect: false });
  try {
    const inFlight = [xs.read('/a'), xs.write('/b', 'x'), xs.directory('/c')];
    await waitFor(() => srv.received.length >= 3, 'the three requests to arrive');
    assert.equal(xs.stats().pending, 3);
    srv.dropAll();
    for (const p of inFlight) {
      const e = await rejectsWith(p, 'ECONNRESET');
      assert.match(e.message, /lost/);
    }
    assert.equal(xs.stats().pending, 0);
    await rejectsWith(xs.read('/a'), 'ECONNRESET');
  } finally {
    await xs.close();
    await srv.close();
  }
});

void test('connect names what it tried; close() is idempotent and stops reconnecting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-xs-none-'));
  try {
    await assert.rejects(
      XenStoreClient.connect({ transport: 'unix', env: { XENSTORED_PATH: join(dir, 'absent') } }),
      (e: Error) => e.message.includes(join(dir, 'absent')),
    );
    // auto: the socket, then the xenbus device (absent here, or its transport not built yet).
    await assert.rejects(
      XenStoreClient.connect({ transport: selectTransport('auto', { XENSTORED_PATH: join(dir, 'absent') }) }),
      (e: Error) => /unix socket/.test(e.message) && /xenbus/.test(e.message) && /XENSTORED_PATH/.test(e.message),
    );
    const srv = await FakeServer.start(() => undefined);
    const xs = await XenStoreClient.connect({
      transport: unixSocketTransport(srv.path),
      reconnect: { initialDelayMs: 1000 },
    });
    await srv.close(); // gone for good: the client keeps trying until closed
    await waitFor(() => !xs.stats().connected, 'the drop to be noticed');
    await xs.close();
    await xs.close();
    await rejectsWith(xs.read('/x'), 'ECONNRESET');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
