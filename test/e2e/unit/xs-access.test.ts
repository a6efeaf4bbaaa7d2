import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAccessLog, teardownTimes } from '../lib/xs-access.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const BE = '/local/domain/0/backend/vdispl/2/0';
const FE = '/local/domain/2/device/vdispl/0';

void test('xenstored access log lines: time, connection without transaction, op, path, argument', () => {
  const lines = parseAccessLog(fixture('xenstored-access-detach.log'));
  assert.equal(lines.length, 15);
  assert.deepEqual(lines[1], {
    t: Date.parse('2026-11-24T04:51:32.282Z'),
    conn: 'A104',
    op: 'write',
    path: `${BE}/online`,
    arg: '0',
  });
  assert.deepEqual(lines[4], {
    t: Date.parse('2026-11-24T04:51:32.299Z'),
    conn: 'A7',
    op: 'w event',
    path: `${BE}/online`,
    arg: 'vdispld:1',
  });
  assert.equal(lines[11]!.arg, '22 freeing event channel 8');
  assert.equal(lines[14]!.conn, 'A104', 'a retried transaction (r(2):) is still its connection');
});

void test('xl vdispl-detach: toolstack change, the daemon sees it, writes Closed; then libxl removes the device', () => {
  const t = teardownTimes(
    parseAccessLog(fixture('xenstored-access-detach.log')),
    BE,
    FE,
    Date.parse('2026-11-24T04:51:32.000Z'),
  );
  assert.equal(t.toolstackAt, Date.parse('2026-11-24T04:51:32.282Z'));
  assert.equal(t.daemonSawAt, Date.parse('2026-11-24T04:51:32.299Z'));
  assert.equal(t.closedAt, Date.parse('2026-11-24T04:51:32.706Z'));
  assert.equal(t.removedAt, Date.parse('2026-11-24T04:51:33.032Z'));
});

void test('nothing after the start time: nothing found', () => {
  const t = teardownTimes(
    parseAccessLog(fixture('xenstored-access-detach.log')),
    BE,
    FE,
    Date.parse('2026-11-24T04:52:00.000Z'),
  );
  assert.deepEqual(t, {});
});
