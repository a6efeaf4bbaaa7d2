// journald: record → fields (priority, DOMID/DEVID/CONNECTOR/OP/ERRNO, escaping), the native
// protocol's bytes, the per-guest rate limit, and a read-back through a real systemd-journald
// (in a private mount namespace) that `journalctl DOMID=5` finds what the daemon logged.
import assert from 'node:assert/strict';
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import unixDgram from 'unix-dgram';
import { GuestRateLimit } from '../../src/ops/log/guest-rate-limit.js';
import { decodeEntry, encodeEntry } from '../../src/ops/log/journal-encode.js';
import { escapeValue, fieldName, recordFields } from '../../src/ops/log/journal-fields.js';
import { LogSink, chooseFormat, journalStreamMatches } from '../../src/ops/log/log-sink.js';
import { tempDir, waitFor } from './helpers.js';
import { journaldAvailable, runUnderJournald, startJournald } from './journald-runner.js';

const fieldsOf = (rec: Record<string, unknown>): Record<string, string> => Object.fromEntries(recordFields(rec));

void test('fields: priority from the level, the operator fields by name, ERRNO positive', () => {
  const f = fieldsOf({
    level: 40,
    time: 1,
    name: 'vdispld',
    msg: 'DBUF_CREATE failed',
    domid: 5,
    dev: 0,
    conn: 1,
    op: 'DBUF_CREATE',
    errno: -12,
    fault: 'frontend',
  });
  assert.deepEqual(f, {
    MESSAGE: 'DBUF_CREATE failed',
    PRIORITY: '4',
    SYSLOG_IDENTIFIER: 'vdispld',
    DOMID: '5',
    DEVID: '0',
    CONNECTOR: '1',
    OP: 'DBUF_CREATE',
    ERRNO: '12',
    FAULT: 'frontend',
  });
  assert.deepEqual(
    [10, 20, 30, 40, 50, 60].map((level) => fieldsOf({ level, msg: '' })['PRIORITY']),
    ['7', '7', '6', '4', '3', '2'],
  );
  // Keys that would land on journald's own fields get our prefix; odd names are made valid.
  assert.equal(fieldName('message'), 'VDISPLD_MESSAGE');
  assert.equal(fieldName('priority'), 'VDISPLD_PRIORITY');
  assert.equal(fieldName('_SYSTEMD_UNIT'), 'SYSTEMD_UNIT');
  assert.equal(fieldName('uniqueId'), 'UNIQUE_ID');
  assert.equal(fieldName('9lives'), 'LIVES');
  assert.equal(fieldName('___'), undefined);
  const e = fieldsOf({
    level: 50,
    msg: 'boom',
    err: { type: 'Error', message: 'inner', stack: 'Error: inner\n    at x' },
  });
  assert.equal(e['ERROR_TYPE'], 'Error');
  assert.equal(e['ERROR_MESSAGE'], 'inner');
  assert.equal(e['ERROR_STACK'], 'Error: inner\\n    at x');
});

void test('escaping: a guest string cannot add lines, terminal escapes or unbounded text', () => {
  assert.equal(
    escapeValue('a\nPRIORITY=0\r\x1b[31mred\x00\u2028z\\'),
    'a\\nPRIORITY=0\\x0d\\x1b[31mred\\x00\\x2028z\\\\',
  );
  assert.equal(escapeValue('x'.repeat(5000), 100).length, 101);
  const f = fieldsOf({ level: 30, msg: 'unique-id', uniqueId: 'id0\nDOMID=0' });
  assert.equal(f['UNIQUE_ID'], 'id0\\nDOMID=0');
  assert.equal(f['DOMID'], undefined, 'no forged field');
});

void test('native protocol bytes: KEY=value lines, length-prefixed binary for a value with a newline', () => {
  const buf = encodeEntry([
    ['MESSAGE', 'hi'],
    ['PRIORITY', '6'],
    ['STACK', 'two\nlines'],
  ]);
  const expected = Buffer.concat([
    Buffer.from('MESSAGE=hi\nPRIORITY=6\nSTACK\n'),
    Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from('two\nlines\n'),
  ]);
  assert.deepEqual(buf, expected);
  assert.deepEqual(decodeEntry(buf), [
    ['MESSAGE', 'hi'],
    ['PRIORITY', '6'],
    ['STACK', 'two\nlines'],
  ]);
  assert.throws(() => encodeEntry([['bad name', 'x']]), /not \[A-Z\]/);
});

void test('rate limit: a burst per domain, then a steady rate; drops are counted and reported once', () => {
  const rl = new GuestRateLimit({ burst: 3, perSecond: 2 });
  let t = 1000;
  const pass = (d: number | undefined): boolean => rl.check(d, t).pass;
  assert.deepEqual([pass(7), pass(7), pass(7), pass(7), pass(7)], [true, true, true, false, false]);
  assert.ok(pass(8), 'another domain has its own bucket');
  assert.ok(pass(undefined) && pass(undefined) && pass(undefined) && pass(undefined), 'the daemon is never limited');
  t += 500; // one token back
  assert.deepEqual(rl.check(7, t), { pass: true, suppressed: 2 });
  assert.deepEqual(rl.check(7, t), { pass: false });
  t += 10_000;
  assert.deepEqual(rl.check(7, t), { pass: true, suppressed: 1 });
  assert.equal(rl.dropped, 3);
  const small = new GuestRateLimit({ burst: 1, perSecond: 1, maxDomains: 4 });
  for (let d = 0; d < 100; d++) small.check(d, 0);
  assert.ok(small.tracked <= 4, 'tracked domains are bounded');
});

void test('JOURNAL_STREAM: matches the file behind an fd by device and inode', () => {
  const t = tempDir('jstream');
  const a = openSync(join(t.dir, 'a'), 'w');
  const b = openSync(join(t.dir, 'b'), 'w');
  try {
    const st = fstatSync(a, { bigint: true });
    const stream = `${st.dev}:${st.ino}`;
    assert.equal(journalStreamMatches(stream, a), true);
    assert.equal(journalStreamMatches(stream, b), false);
    assert.equal(journalStreamMatches(undefined, a), false);
    assert.equal(journalStreamMatches('garbage', a), false);
    assert.equal(chooseFormat('json', { JOURNAL_STREAM: stream }), 'json');
    assert.equal(chooseFormat('journal', {}), 'journal');
    assert.equal(chooseFormat('auto', {}), 'json');
  } finally {
    closeSync(a);
    closeSync(b);
    t.remove();
  }
});

void test('sink → datagrams: a fake journald socket receives decodable entries; a missing one falls back to JSON', async () => {
  const t = tempDir('jsink');
  const path = join(t.dir, 'socket');
  const got: Buffer[] = [];
  const server = unixDgram.createSocket('unix_dgram', (msg) => got.push(msg));
  server.bind(path);
  const fallback: string[] = [];
  const sink = new LogSink({
    format: 'journal',
    journalSocket: path,
    fallback: { write: (s: string) => fallback.push(s) },
  });
  try {
    const log = pino({ base: undefined, name: 'vdispld' }, sink);
    log.child({ domid: 3, dev: 1 }).error({ conn: 0, op: 'PG_FLIP', errno: -16 }, 'flip refused');
    await waitFor(() => got.length === 1, 'one datagram');
    const f = Object.fromEntries(decodeEntry(got[0]!));
    assert.equal(f['MESSAGE'], 'flip refused');
    assert.equal(f['PRIORITY'], '3');
    assert.equal(f['DOMID'], '3');
    assert.equal(f['DEVID'], '1');
    assert.equal(f['CONNECTOR'], '0');
    assert.equal(f['OP'], 'PG_FLIP');
    assert.equal(f['ERRNO'], '16');
    assert.equal(fallback.length, 0);

    const gone = new LogSink({
      format: 'journal',
      journalSocket: join(t.dir, 'nothing-here'),
      fallback: { write: (s: string) => fallback.push(s) },
    });
    pino({ base: undefined }, gone).info({ domid: 1 }, 'still kept');
    gone.close();
    gone.close();
    assert.match(fallback[0]!, /unreachable/);
    assert.equal((JSON.parse(fallback[1]!) as { msg: string }).msg, 'still kept');
  } finally {
    sink.close();
    sink.close();
    server.close();
    t.remove();
  }
});

const skip = journaldAvailable();

void test(
  'through a real systemd-journald: priorities, fields, escaping, and a noisy guest limited',
  { skip },
  async () => {
    const jd = await startJournald();
    let now = 1_000_000;
    const sink = new LogSink({
      format: 'journal',
      journalSocket: jd.socket,
      now: () => now,
      rateLimit: { burst: 20, perSecond: 1 },
    });
    const ident = `vdispld-test-${process.pid}`;
    try {
      const log = pino({ base: undefined, name: ident, level: 'debug' }, sink);
      log.info('daemon started');
      // A burst far beyond journald's socket queue: the sink holds entries until it drains.
      for (let i = 0; i < 400; i++) log.debug({ i }, 'burst');
      const guest = log.child({ domid: 5, dev: 0 });
      guest.warn(
        { conn: 1, op: 'DBUF_CREATE', errno: -22, uniqueId: 'evil\n<0>MESSAGE=forged' },
        'bad request\nsecond line',
      );
      guest.error({ conn: 1, op: 'SET_CONFIG', errno: -19 }, 'no output');
      const noisy = log.child({ domid: 9, dev: 0 });
      for (let i = 0; i < 200; i++) noisy.debug({ op: 'PG_FLIP', errno: -16, i }, 'flip refused');
      now += 60_000;
      noisy.info('quiet again');
      const expectTotal = 1 + 400 + 2 + 20 + 1 + 1;
      await waitFor(
        () => jd.read([`SYSLOG_IDENTIFIER=${ident}`]).length >= expectTotal,
        'entries in the journal',
        15000,
      );

      assert.equal(jd.read([`SYSLOG_IDENTIFIER=${ident}`, 'MESSAGE=burst']).length, 400, 'no entry of the burst lost');
      assert.equal(sink.stats.journalDropped, 0);
      const dom5 = jd.read([`SYSLOG_IDENTIFIER=${ident}`, 'DOMID=5']);
      assert.equal(dom5.length, 2, 'journalctl DOMID=5 finds exactly the guest lines');
      const warn = dom5.find((e) => e['OP'] === 'DBUF_CREATE')!;
      assert.equal(warn['PRIORITY'], '4');
      assert.equal(warn['DEVID'], '0');
      assert.equal(warn['CONNECTOR'], '1');
      assert.equal(warn['ERRNO'], '22');
      assert.equal(warn['MESSAGE'], 'bad request\\nsecond line');
      assert.equal(warn['UNIQUE_ID'], 'evil\\n<0>MESSAGE=forged');
      assert.equal(warn['_TRANSPORT'], 'journal');
      const err = dom5.find((e) => e['OP'] === 'SET_CONFIG')!;
      assert.equal(err['PRIORITY'], '3');
      assert.equal(err['ERRNO'], '19');
      assert.equal(
        jd.read([`SYSLOG_IDENTIFIER=${ident}`, 'PRIORITY=6']).filter((e) => e['DOMID'] === undefined).length,
        1,
        'the daemon line, at info',
      );

      const dom9 = jd.read([`SYSLOG_IDENTIFIER=${ident}`, 'DOMID=9']);
      assert.equal(dom9.filter((e) => e['MESSAGE'] === 'flip refused').length, 20, 'the burst, then nothing');
      const notice = dom9.find((e) => e['SUPPRESSED'] !== undefined)!;
      assert.equal(notice['SUPPRESSED'], '180');
      assert.equal(notice['PRIORITY'], '4');
      assert.ok(dom9.some((e) => e['MESSAGE'] === 'quiet again'));
      assert.equal(sink.stats.rateLimited, 180);
    } finally {
      sink.close();
      await jd.close();
    }
    assert.equal(existsSync(jd.socket), false);
  },
);

void test(
  "the daemon under journald: vdispld demo --log-format journal stores its guests' lines with DOMID= and DEVID=",
  { skip, timeout: 120_000 },
  async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const t = tempDir('jdemo');
    const r = await runUnderJournald(
      [
        process.execPath,
        '--import',
        'tsx',
        join(root, 'src/main.ts'),
        'demo',
        '--guests',
        '1',
        '--duration',
        '3',
        '--json',
        '--log-format',
        'journal',
        '--log-level',
        'info',
        '--control-socket',
        join(t.dir, 'c.sock'),
      ],
      100_000,
    );
    try {
      assert.equal(r.code, 0, r.output.slice(-2000));
      const dom1 = r.read(['SYSLOG_IDENTIFIER=vdispld', 'DOMID=1']);
      const connected = dom1.find((e) => /-> connected/.test(String(e['MESSAGE'])));
      assert.ok(
        connected,
        `a DOMID=1 entry says the device connected; got ${dom1.map((e) => String(e['MESSAGE'])).join(' | ')}`,
      );
      assert.equal(connected['DEVID'], '0');
      assert.equal(connected['PRIORITY'], '6');
      assert.equal(connected['_TRANSPORT'], 'journal');
      // Nothing of the daemon's log went to stderr: the JSON report is the only output.
      assert.equal((JSON.parse(r.output) as { ok: boolean }).ok, true);
    } finally {
      r.close();
      t.remove();
    }
  },
);
