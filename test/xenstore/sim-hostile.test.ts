// The simulated xenstored against a client that breaks the rules: every bad request gets a
// XenStore error, a forbidden frame costs only that connection, and the daemon keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from './helpers.js';
import { RawConnection } from './raw.js';
import { HEADER_SIZE, XsType, encodeMessage } from '../../src/xenstore/wire.js';

void test('bad requests get the errors xenstored gives', async () => {
  const f = await fixture();
  const raw = await RawConnection.connect(f.xsd.socketPath);
  try {
    const err = (s: string) => ({ type: XsType.ERROR, strings: [s] });
    assert.deepEqual(await raw.call(9999, ['x']), err('EINVAL'), 'unknown type');
    assert.deepEqual(await raw.call(XsType.WATCH_EVENT, ['/a', 't']), err('EINVAL'), 'a reply type sent as a request');
    assert.deepEqual(await raw.call(XsType.ERROR, ['EIO']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.READ, []), err('EINVAL'), 'no path');
    assert.deepEqual(await raw.call(XsType.READ, ['/a//b']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.READ, ['/a/']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.READ, ['/a\u00e9']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.READ, [`/${'x'.repeat(3100)}`]), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.READ, ['@releaseDomain']), err('EINVAL'));
    raw.sendBytes(encodeMessage(XsType.WRITE, 5, 0, Buffer.from('/no-value-separator')));
    assert.deepEqual((await raw.next())?.payload.toString(), 'EINVAL\0');
    assert.deepEqual(await raw.call(XsType.SET_PERMS, ['/', 'q1']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.SET_PERMS, ['/', 'r99999']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.GET_DOMAIN_PATH, ['-1']), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.WATCH, ['/a']), err('EINVAL'), 'no token');
    assert.deepEqual(await raw.call(XsType.UNWATCH, ['/a', 'never-set']), err('ENOENT'));
    assert.deepEqual(await raw.call(XsType.READ, ['/'], 4242), err('ENOENT'), 'unknown transaction');
    assert.deepEqual(await raw.call(XsType.TRANSACTION_END, ['T'], 4242), err('ENOENT'));
    const tx = Number((await raw.call(XsType.TRANSACTION_START, [''])).strings[0]);
    assert.deepEqual(await raw.call(XsType.TRANSACTION_END, ['maybe'], tx), err('EINVAL'));
    assert.deepEqual(await raw.call(XsType.TRANSACTION_END, ['F'], tx), {
      type: XsType.TRANSACTION_END,
      strings: ['OK'],
    });
    assert.deepEqual(await raw.call(XsType.WATCH, ['/a', 'tok']), { type: XsType.WATCH, strings: ['OK'] });
    assert.equal((await raw.next())?.type, XsType.WATCH_EVENT);
    assert.deepEqual(await raw.call(XsType.WATCH, ['/a', 'tok']), err('EEXIST'));
    assert.deepEqual(await raw.call(XsType.RESET_WATCHES, []), { type: XsType.RESET_WATCHES, strings: ['OK'] });
    assert.equal(f.xsd.stats().watches, 0);
    // A large directory does not fit one reply: E2BIG, and DIRECTORY_PART pages through it.
    const names = Array.from({ length: 300 }, (_, i) => `child-with-a-long-name-${String(i).padStart(4, '0')}`);
    await Promise.all(names.map((n) => f.dom0.mkdir(`/big/${n}`)));
    assert.deepEqual(await raw.call(XsType.DIRECTORY, ['/big']), err('E2BIG'));
    const seen: string[] = [];
    let offset = 0;
    for (let guard = 0; guard < 10; guard++) {
      const part = await raw.call(XsType.DIRECTORY_PART, ['/big', String(offset)]);
      assert.equal(part.type, XsType.DIRECTORY_PART);
      const children = part.strings.slice(1);
      const done = children[children.length - 1] === '';
      const got = done ? children.slice(0, -1) : children;
      seen.push(...got);
      offset += got.reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);
      if (done) break;
    }
    assert.deepEqual(seen, names);
  } finally {
    raw.close();
    await f.close();
  }
});

void test('an oversized frame drops that connection only; partial frames are reassembled', async () => {
  const f = await fixture();
  const bad = await RawConnection.connect(f.xsd.socketPath);
  const good = await RawConnection.connect(f.xsd.socketPath);
  try {
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(XsType.WRITE, 0);
    header.writeUInt32LE(4097, 12);
    bad.sendBytes(header);
    assert.equal(await bad.next(), undefined, 'dropped');
    const frame = encodeMessage(XsType.GET_DOMAIN_PATH, 3, 0, Buffer.from('7\0'));
    good.sendBytes(frame.subarray(0, 7));
    await new Promise((r) => setTimeout(r, 10));
    good.sendBytes(frame.subarray(7));
    const m = await good.next();
    assert.equal(m?.reqId, 3);
    assert.equal(m?.payload.toString(), '/local/domain/7\0');
    assert.equal(await f.dom0.getDomainPath(1), '/local/domain/1', 'the daemon still serves');
  } finally {
    bad.close();
    good.close();
    await f.close();
  }
});
