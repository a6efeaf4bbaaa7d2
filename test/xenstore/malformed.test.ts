// Replies a broken or hostile xenstored might send: each fails its own request (or drops the
// connection, for a frame the protocol forbids), never the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { rejectsWith, waitFor } from './helpers.js';
import { FakeServer } from './fake-server.js';
import { XenStoreClient } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';
import { HEADER_SIZE, XsType, encodeMessage, type XsMessage } from '../../src/xenstore/wire.js';

const reply = (sock: Socket, m: XsMessage, type: number, payload: Buffer | string): void => {
  sock.write(
    encodeMessage(type, m.reqId, m.txId, typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload),
  );
};

void test('malformed replies fail their own request with EPROTO and leave the connection usable', async () => {
  const srv = await FakeServer.start((m, sock) => {
    const path = m.payload.subarray(0, m.payload.indexOf(0)).toString();
    switch (path) {
      case '/unknown-error':
        return reply(sock, m, XsType.ERROR, 'EWHATEVER\0');
      case '/wrong-type':
        return reply(sock, m, XsType.WRITE, 'OK\0');
      case '/bad-dir':
        return reply(sock, m, XsType.DIRECTORY, 'a\0b'); // unterminated
      case '/slash-dir':
        return reply(sock, m, XsType.DIRECTORY, 'a/b\0');
      case '/bad-perms':
        return reply(sock, m, XsType.GET_PERMS, 'x9\0');
      case '/no-perms':
        return reply(sock, m, XsType.GET_PERMS, '');
      case '/bad-ok':
        return reply(sock, m, XsType.WRITE, 'KO\0');
      case '/stray': {
        // A reply to a request nobody made, a watch event for no watch, a short watch event,
        // then the real answer split across three writes.
        sock.write(encodeMessage(XsType.READ, 999_999, 0, Buffer.from('stray')));
        sock.write(encodeMessage(XsType.WATCH_EVENT, 0, 0, Buffer.from('/x\0nobody\0')));
        sock.write(encodeMessage(XsType.WATCH_EVENT, 0, 0, Buffer.from('/x')));
        const whole = encodeMessage(XsType.READ, m.reqId, 0, Buffer.from('fine'));
        sock.write(whole.subarray(0, 5));
        setTimeout(() => sock.write(whole.subarray(5, HEADER_SIZE + 2)), 5);
        setTimeout(() => sock.write(whole.subarray(HEADER_SIZE + 2)), 10);
        return;
      }
      default:
        if (m.type === XsType.TRANSACTION_START) return reply(sock, m, m.type, 'zero\0');
        return reply(sock, m, m.type, 'value');
    }
  });
  const lines: string[] = [];
  const xs = await XenStoreClient.connect({
    transport: unixSocketTransport(srv.path),
    reconnect: false,
    log: (l) => lines.push(l),
  });
  try {
    const e = await rejectsWith(xs.read('/unknown-error'), 'EPROTO', '/unknown-error');
    assert.match(e.message, /EWHATEVER/);
    await rejectsWith(xs.read('/wrong-type'), 'EPROTO');
    await rejectsWith(xs.directory('/bad-dir'), 'EPROTO', '/bad-dir');
    await rejectsWith(xs.directory('/slash-dir'), 'EPROTO');
    await rejectsWith(xs.getPerms('/bad-perms'), 'EPROTO');
    await rejectsWith(xs.getPerms('/no-perms'), 'EPROTO');
    await rejectsWith(xs.write('/bad-ok', 'v'), 'EPROTO');
    await rejectsWith(
      xs.transaction(async () => 1),
      'EPROTO',
    );
    assert.equal(await xs.read('/stray'), 'fine');
    assert.equal(await xs.read('/anything'), 'value', 'still connected');
    assert.ok(xs.stats().badFrames >= 9, `badFrames ${xs.stats().badFrames}`);
    assert.ok(lines.some((l) => l.includes('unknown request 999999')));
  } finally {
    await xs.close();
    await srv.close();
  }
});

void test('an oversized frame is a protocol violation: the connection is dropped, then re-established', async () => {
  let first = true;
  const srv = await FakeServer.start((m, sock) => {
    if (first) {
      first = false;
      const header = Buffer.alloc(HEADER_SIZE);
      header.writeUInt32LE(XsType.READ, 0);
      header.writeUInt32LE(m.reqId, 4);
      header.writeUInt32LE(1 << 20, 12); // 1 MiB announced
      sock.write(header);
      return;
    }
    reply(sock, m, m.type, 'recovered');
  });
  const xs = await XenStoreClient.connect({
    transport: unixSocketTransport(srv.path),
    reconnect: { initialDelayMs: 5 },
  });
  try {
    const e = await rejectsWith(xs.read('/a'), 'EPROTO', '/a');
    assert.match(e.message, /4096/);
    await waitFor(() => xs.stats().connected, 'the reconnect');
    assert.equal(await xs.read('/a'), 'recovered');
    assert.equal(xs.stats().reconnects, 1);
  } finally {
    await xs.close();
    await srv.close();
  }
});
