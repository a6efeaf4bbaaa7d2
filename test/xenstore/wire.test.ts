// Pure protocol pieces: framing, string lists, path rules, permission strings, transport choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameDecoder,
  FrameTooLargeError,
  HEADER_SIZE,
  encodeMessage,
  joinStrings,
  splitArgs,
  splitStrings,
} from '../../src/xenstore/wire.js';
import { isChildOf, parentOf, pathProblem } from '../../src/xenstore/paths.js';
import { parsePerm } from '../../src/xenstore/perms.js';
import { socketPathFrom, xenbusPathFrom } from '../../src/xenstore/select-transport.js';
import { firedPath } from '../../src/sim/xenstored/watches.js';
import { accessFor } from '../../src/sim/xenstored/access.js';

void test('frames survive any split, header fields are little-endian, oversized lengths are refused', () => {
  const a = encodeMessage(2, 0x01020304, 7, Buffer.from('/x\0'));
  const b = encodeMessage(15, 0, 0, joinStrings(['/w', 'tok']));
  assert.deepEqual([...a.subarray(4, 8)], [4, 3, 2, 1]);
  const stream = Buffer.concat([a, b]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(
      got.map((m) => [m.type, m.reqId, m.txId, m.payload.toString()]),
      [
        [2, 0x01020304, 7, '/x\0'],
        [15, 0, 0, '/w\0tok\0'],
      ],
    );
    assert.equal(d.pending, 0);
  }
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32LE(4097, 12);
  assert.throws(() => new FrameDecoder().push(header), FrameTooLargeError);
  const max = Buffer.alloc(HEADER_SIZE);
  max.writeUInt32LE(4096, 12);
  assert.deepEqual(new FrameDecoder().push(max), [], 'exactly 4096 is allowed; waits for the payload');
});

void test('string lists: terminated lists split, unterminated ones are flagged; request args are lenient', () => {
  assert.deepEqual(splitStrings(Buffer.from('a\0b\0')), ['a', 'b']);
  assert.deepEqual(splitStrings(Buffer.alloc(0)), []);
  assert.equal(splitStrings(Buffer.from('a\0b')), undefined);
  assert.deepEqual(splitArgs(Buffer.from('/p\0tok')), ['/p', 'tok']);
  assert.deepEqual(splitArgs(Buffer.from('/p\0tok\0')), ['/p', 'tok']);
});

void test('path rules follow docs/misc/xenstore.txt', () => {
  for (const ok of ['/', '/a', '/local/domain/0/backend', 'rel/path', '/a-b_c@d'])
    assert.equal(pathProblem(ok), undefined, ok);
  assert.equal(pathProblem('@releaseDomain', true), undefined);
  assert.equal(pathProblem('@releaseDomain')?.kind, 'special-not-allowed');
  assert.equal(pathProblem('')?.kind, 'empty');
  assert.equal(pathProblem('/a//b')?.kind, 'bad-slash');
  assert.equal(pathProblem('/a/')?.kind, 'bad-slash');
  assert.equal(pathProblem('/a.b')?.kind, 'bad-char');
  assert.equal(pathProblem(`/${'a'.repeat(3071)}`), undefined);
  assert.equal(pathProblem(`/${'a'.repeat(3072)}`)?.kind, 'too-long');
  assert.equal(pathProblem('a'.repeat(2049))?.kind, 'too-long');
  assert.ok(isChildOf('/a/b', '/a') && isChildOf('/a', '/a') && isChildOf('/a', '/'));
  assert.ok(!isChildOf('/ab', '/a') && !isChildOf('@x', '/'));
  assert.equal(parentOf('/a/b'), '/a');
  assert.equal(parentOf('/a'), '/');
});

void test('watch matching and the permission decision', () => {
  assert.equal(firedPath('/a', '/a/b', false), '/a/b');
  assert.equal(firedPath('/a/b', '/a', false), undefined);
  assert.equal(firedPath('/a/b', '/a', true), '/a/b');
  assert.equal(firedPath('/a', '/ab', true), undefined);
  const perms = [
    { domid: 3, access: 'r' as const },
    { domid: 5, access: 'n' as const },
    { domid: 6, access: 'w' as const },
  ];
  assert.deepEqual(accessFor({ domid: 3, privileged: false }, perms), { read: true, write: true, owner: true });
  assert.deepEqual(accessFor({ domid: 4, privileged: false }, perms), { read: true, write: false, owner: false });
  assert.deepEqual(accessFor({ domid: 5, privileged: false }, perms), { read: false, write: false, owner: false });
  assert.deepEqual(accessFor({ domid: 6, privileged: false }, perms), { read: false, write: true, owner: false });
  assert.deepEqual(
    accessFor({ domid: 9, privileged: false, target: 3 }, perms).owner,
    true,
    'SET_TARGET acts as the target',
  );
  assert.deepEqual(accessFor({ domid: 0, privileged: true }, perms).owner, true);
});

void test('permission strings and transport paths', () => {
  assert.deepEqual(parsePerm('b12'), { access: 'b', domid: 12 });
  for (const bad of ['x1', 'r', 'r-1', 'r65536', 'rr1', ' r1']) assert.equal(parsePerm(bad), undefined, bad);
  assert.equal(socketPathFrom({}), '/run/xenstored/socket');
  assert.equal(socketPathFrom({ XENSTORED_PATH: '/tmp/s' }), '/tmp/s');
  assert.equal(
    xenbusPathFrom({}, () => true),
    '/dev/xen/xenbus',
  );
  assert.equal(
    xenbusPathFrom({}, () => false),
    '/proc/xen/xenbus',
  );
  assert.equal(
    xenbusPathFrom({ XENSTORED_PATH: '/tmp/s' }, () => true),
    '/tmp/s',
  );
});
