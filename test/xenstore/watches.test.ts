// Watches: registration event, subtree, removal, ordering, permissions, relative paths, close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, fixture, settle } from './helpers.js';

void test('a watch fires once at registration, then for changes at or below its path only', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const log = new EventLog();
    const w = await xs.watch('/w/a', log.push);
    assert.deepEqual(await log.until(1), ['/w/a']);
    await xs.write('/w/a', '1');
    await xs.write('/w/a/b/c', '2');
    await xs.write('/w/ab', 'sibling with a common prefix');
    await xs.write('/w', 'parent');
    await xs.write('/other', 'x');
    await xs.setPerms('/w/a/b', [{ domid: 0, access: 'r' }]);
    await xs.mkdir('/w/a/b/c'); // exists: no change, no event
    await settle(xs);
    assert.deepEqual(log.events, ['/w/a', '/w/a', '/w/a/b/c', '/w/a/b']);
    await w.close();
    await w.close();
    await xs.write('/w/a', 'after close');
    await settle(xs);
    assert.equal(log.events.length, 4, 'no callback after close');
    assert.equal(f.xsd.stats().watches, 0, 'UNWATCH reached xenstored');
  } finally {
    await f.close();
  }
});

void test("removal fires the removed path above, and each watch's own path below", async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.write('/r/x/y/z', '1');
    const above = new EventLog();
    const at = new EventLog();
    const below = new EventLog();
    const unrelated = new EventLog();
    await xs.watch('/r', above.push);
    await xs.watch('/r/x', at.push);
    await xs.watch('/r/x/y/z', below.push);
    await xs.watch('/r/q', unrelated.push);
    await xs.rm('/r/x');
    await settle(xs);
    assert.deepEqual(above.events, ['/r', '/r/x']);
    assert.deepEqual(at.events, ['/r/x', '/r/x']);
    assert.deepEqual(below.events, ['/r/x/y/z', '/r/x/y/z']);
    assert.deepEqual(unrelated.events, ['/r/q']);
  } finally {
    await f.close();
  }
});

void test('events arrive in the order xenstored sent them, interleaved with replies', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    const other = await f.client(f.xsd.socketPath);
    const log = new EventLog();
    await xs.watch('/ord', log.push);
    const n = 200;
    const reads: Promise<string | undefined>[] = [];
    for (let i = 0; i < n; i++) {
      void other.write(`/ord/k${i % 7}`, String(i));
      reads.push(xs.tryRead(`/ord/k${i % 7}`)); // replies interleave with the events on xs's stream
    }
    const events = await log.until(n + 1);
    assert.deepEqual(events, ['/ord', ...Array.from({ length: n }, (_, i) => `/ord/k${i % 7}`)]);
    await Promise.all(reads);
  } finally {
    await f.close();
  }
});

void test('a guest is not told about nodes it cannot read; relative watches report relative paths', async () => {
  const f = await fixture();
  try {
    const xs = f.dom0;
    await xs.mkdir('/local/domain/5');
    await xs.setPerms('/local/domain/5', [{ domid: 5, access: 'n' }]);
    await xs.write('/pub/open', '1');
    await xs.setPerms('/pub', [{ domid: 0, access: 'r' }]);
    await xs.setPerms('/pub/open', [{ domid: 0, access: 'r' }]);
    const g = await f.guest(5);
    const pub = new EventLog();
    const home = new EventLog();
    await g.watch('/pub', pub.push);
    await g.watch('device', home.push);
    await xs.write('/pub/open', '2');
    await xs.write('/pub/hidden', 'x'); // inherits r0 from /pub: readable
    await xs.setPerms('/pub/hidden', [{ domid: 0, access: 'n' }]); // now unreadable: not told
    await xs.write('/pub/hidden', 'y');
    await xs.write('/local/domain/5/device/vdispl/0/state', '1');
    await settle(g);
    assert.deepEqual(pub.events, ['/pub', '/pub/open', '/pub/hidden']);
    assert.deepEqual(home.events, ['device', 'device/vdispl/0/state']);
  } finally {
    await f.close();
  }
});

void test('special watches see domains come and go; a throwing callback does not stop delivery', async () => {
  const f = await fixture();
  try {
    const lines: string[] = [];
    const xs = await f.client(f.xsd.socketPath, { log: (l) => lines.push(l) });
    const intro = new EventLog();
    await xs.watch('@introduceDomain', (p) => {
      intro.push(p);
      throw new Error('callback bug');
    });
    await f.xsd.introduceDomain(4);
    await f.xsd.introduceDomain(4); // already introduced: no second event
    await f.xsd.introduceDomain(8);
    await intro.until(3);
    await settle(xs);
    assert.deepEqual(intro.events, ['@introduceDomain', '@introduceDomain', '@introduceDomain']);
    assert.ok(lines.some((l) => l.includes('callback bug')));
  } finally {
    await f.close();
  }
});
