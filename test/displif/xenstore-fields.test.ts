// XenStore field parsing: strict decimal, bounds, and errors naming the key and the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatVersions,
  parseBeAlloc,
  parseEvtchnPort,
  parseGrantRef,
  parseResolution,
  parseU32,
  parseUniqueId,
  parseVersion,
  parseVersions,
  parseXenbusState,
  showValue,
  type FieldResult,
} from '../../src/displif/xenstore-fields.js';
import { XenbusState } from '../../src/displif/constants.js';

function value<T>(r: FieldResult<T>): T {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
}

function error<T>(r: FieldResult<T>): string {
  assert.equal(r.ok, false, `expected an error, got ${JSON.stringify(r)}`);
  return r.ok ? '' : r.error;
}

void test('u32: canonical decimal only', () => {
  assert.equal(value(parseU32('k', '0')), 0);
  assert.equal(value(parseU32('k', '4294967295')), 0xffffffff);
  for (const bad of [
    '',
    ' 1',
    '1 ',
    '+1',
    '-1',
    '01',
    '0x10',
    '1e3',
    '4294967296',
    '99999999999',
    '1.0',
    '１',
    '1\n',
    '1\0',
  ]) {
    error(parseU32('k', bad));
  }
  assert.match(error(parseU32('device/vdispl/0/0/req-ring-ref', undefined)), /req-ring-ref is missing/);
});

void test('grant refs and ports: non-zero, ports within the FIFO ABI', () => {
  assert.equal(value(parseGrantRef('r', '8')), 8);
  assert.equal(value(parseGrantRef('r', '4294967295')), 0xffffffff);
  assert.match(error(parseGrantRef('evt-ring-ref', '0')), /evt-ring-ref = "0": grant ref 0/);
  assert.equal(value(parseEvtchnPort('p', '131071')), 131071);
  error(parseEvtchnPort('p', '131072'));
  error(parseEvtchnPort('p', '0'));
  error(parseEvtchnPort('p', 'abc'));
});

void test('resolution: <W>x<H> within the Linux frontend limits unless told otherwise', () => {
  assert.deepEqual(value(parseResolution('0/resolution', '1920x1080')), { width: 1920, height: 1080 });
  assert.deepEqual(value(parseResolution('r', '4095x2047')), { width: 4095, height: 2047 });
  assert.match(
    error(parseResolution('0/resolution', '3840x2160')),
    /0\/resolution = "3840x2160": larger than 4095x2047/,
  );
  assert.deepEqual(value(parseResolution('r', '3840x2160', { maxWidth: 8192, maxHeight: 8192 })), {
    width: 3840,
    height: 2160,
  });
  for (const bad of [
    '1920',
    '1920x',
    'x1080',
    '1920X1080',
    '1920x1080x1',
    '0x1080',
    '1920x0',
    '1920 x 1080',
    '-1x5',
    '01920x1080',
    '1920x1080\n',
  ]) {
    error(parseResolution('r', bad));
  }
});

void test('be-alloc: absent or 0 means frontend-allocated, 1 means backend may allocate', () => {
  assert.equal(value(parseBeAlloc('be-alloc', undefined)), false);
  assert.equal(value(parseBeAlloc('be-alloc', '0')), false);
  assert.equal(value(parseBeAlloc('be-alloc', '1')), true);
  for (const bad of ['', 'true', '2', '01', ' 1']) error(parseBeAlloc('be-alloc', bad));
});

void test('unique-id: printable, no spaces or commas, bounded', () => {
  assert.equal(value(parseUniqueId('0/unique-id', 'HDMI-A-1')), 'HDMI-A-1');
  for (const bad of ['', 'a b', 'a,b', 'x'.repeat(65), 'tab\there', 'é']) error(parseUniqueId('0/unique-id', bad));
  error(parseUniqueId('0/unique-id', undefined));
});

void test('versions / version negotiation', () => {
  assert.equal(formatVersions(), '1,2');
  assert.deepEqual(value(parseVersions('versions', '1,2')), [1, 2]);
  for (const bad of ['', '1,', ',1', '1,,2', '1,1', '0', 'a']) error(parseVersions('versions', bad));
  assert.equal(value(parseVersion('version', undefined)), 1, 'the Linux frontend never writes version');
  assert.equal(value(parseVersion('version', '2')), 2);
  assert.match(error(parseVersion('version', '3')), /not one of the offered versions 1,2/);
  error(parseVersion('version', '2', [1]));
});

void test('XenBus state', () => {
  assert.equal(value(parseXenbusState('state', '4')), XenbusState.Connected);
  error(parseXenbusState('state', '9'));
});

void test('errors show hostile values escaped and truncated', () => {
  const msg = error(parseGrantRef('0/req-ring-ref', `\x1b[31m"evil"\n${'A'.repeat(200)}`));
  assert.ok(
    [...msg].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f),
    'no control characters reach the log line',
  );
  assert.match(
    msg,
    /^XenStore 0\/req-ring-ref = "\\x1b\[31m\\"evil\\"\\x0aA+"\.\.\. \(212 chars\): expected a decimal integer$/,
  );
  assert.equal(showValue('\u{1F600}'), '"\\u{1f600}"');
});
