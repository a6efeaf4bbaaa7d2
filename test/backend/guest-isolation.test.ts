// Two guests on one backend: what one does to its own device never reaches the other. Cookies are
// per device (a guest naming another's buffer or framebuffer gets -ENOENT, the other's stay as they
// were), and a guest that never consumes its events fills only its own bounded queue: the events
// beyond it are dropped and counted, and the other guest's events come as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVT_RING_LEN, XEN_EBUSY, XEN_ENOENT } from '../../src/displif/constants.js';
import { DEFAULT_EVENT_QUEUE_LIMIT } from '../../src/displif/event-page.js';
import type { Request } from '../../src/displif/requests.js';
import type { ConnectorStatus } from '../../src/backend/connection.js';
import { cookie } from '../../src/util/ids.js';
import { waitFor } from './helpers/test-frontend.js';
import { XRGB, attachBuffer, showBuffer, world, type GuestSide, type World } from './helpers/xs-world.js';

const GUEST_B = 6;

/** The status of `side`'s connector 0. */
function connector(w: World, side: GuestSide): ConnectorStatus {
  const d = w.backend.status().find((s) => s.domid === side.domid);
  assert.ok(d, `device of dom${side.domid}`);
  return d.connectors[0]!;
}

async function twoGuests(): Promise<{ w: World; b: GuestSide }> {
  const w = await world('connectors=id0:64x48');
  const b = await w.addGuest(GUEST_B, 'connectors=id0:64x48');
  await w.fe.connect(1);
  await b.fe.connect(1);
  return { w, b };
}

void test('guest A cannot name guest B cookies: -ENOENT for each, B untouched; the same cookie values are separate buffers', async () => {
  const { w, b } = await twoGuests();
  try {
    // Both use cookies 1/11; B also has 7/77, shown.
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    await showBuffer(b, 0, 1n, 11n, 64, 48);
    await showBuffer(b, 0, 7n, 77n, 64, 48);
    const before = w.backend.resources();
    const attacks: [string, Request][] = [
      ['FB_DETACH of B fb 77', { kind: 'fb-detach', fbCookie: cookie(77n) }],
      ['DBUF_DESTROY of B dbuf 7', { kind: 'dbuf-destroy', dbufCookie: cookie(7n) }],
      ['PG_FLIP of B fb 77', { kind: 'pg-flip', fbCookie: cookie(77n) }],
      [
        'SET_CONFIG of B fb 77',
        { kind: 'set-config', config: { fbCookie: cookie(77n), x: 0, y: 0, width: 64, height: 48, bpp: 32 } },
      ],
      [
        'FB_ATTACH over B dbuf 7',
        { kind: 'fb-attach', dbufCookie: cookie(7n), fbCookie: cookie(78n), width: 64, height: 48, format: XRGB },
      ],
    ];
    for (const [what, req] of attacks) assert.equal((await w.fe.request(0, req)).status, -XEN_ENOENT, what);
    assert.deepEqual(w.backend.resources(), before, 'nothing created or released');
    // A's own cookie 1 goes; B's buffer 1 and framebuffer 11 stay, and B flips both.
    assert.equal((await w.fe.request(0, { kind: 'fb-detach', fbCookie: cookie(11n) })).status, 0);
    assert.equal((await w.fe.request(0, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) })).status, 0);
    for (const fb of [77n, 11n]) {
      assert.equal((await b.fe.request(0, { kind: 'pg-flip', fbCookie: cookie(fb) })).status, 0, `B flips ${fb}`);
      await waitFor(`B's event for ${fb}`, () => {
        const e = b.fe.events(0).at(-1);
        return e?.type === 0 && e.fbCookie === cookie(fb);
      });
    }
    assert.equal(connector(w, b).scanout?.fbCookie, cookie(77n), "B's configuration as it set it");
    // Now A makes cookies B uses: its own namespace, no -EEXIST.
    await attachBuffer(w, 7n, 77n, 64, 48);
  } finally {
    await w.close();
  }
});

/** PG_FLIPs pushed 32 at a time without reading an event, until `settled` flips have their events due. */
async function floodFlips(w: World, side: GuestSide, fb: bigint, settled: number): Promise<Map<number, number>> {
  const ch = side.fe.chans[0]!;
  const statuses = new Map<number, number>();
  let id = 0;
  for (let batch = 0; batch < 2000; batch++) {
    const s = connector(w, side).stats;
    if (s.flipsShown + s.flipsDropped >= settled) return statuses;
    for (let i = 0; i < 32; i++) ch.ring.writeRequest({ kind: 'pg-flip', fbCookie: cookie(fb) }, id++ & 0xffff);
    if (ch.ring.pushRequests()) side.fe.platform.fire(ch.reqPort);
    let got = 0;
    await waitFor('the batch answered', () => {
      ch.ring.consumeResponses(32, (r) => {
        got++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      });
      ch.ring.finalCheckForResponses();
      return got === 32;
    });
  }
  throw new Error(`fewer than ${settled} flips settled`);
}

void test('a guest that never consumes its events: its queue stays at the limit, the rest dropped and counted; the other guest unaffected', async () => {
  const { w, b } = await twoGuests();
  try {
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    await showBuffer(b, 0, 1n, 11n, 64, 48);
    const settled = EVT_RING_LEN + DEFAULT_EVENT_QUEUE_LIMIT + 100;
    // A flips as Linux does (the next after the last one's event) while B floods.
    const aFlips = (async () => {
      for (let i = 0; i < 20; i++) {
        assert.equal((await w.fe.request(0, { kind: 'pg-flip', fbCookie: cookie(11n) })).status, 0);
        await waitFor(`A's event ${i}`, () => w.fe.events(0).length === i + 1);
      }
    })();
    const statuses = await floodFlips(w, b, 11n, settled);
    await aFlips;
    assert.deepEqual(
      [...statuses.keys()].sort(),
      [-XEN_EBUSY, 0].sort(),
      'answered 0, or -EBUSY past the pending quota',
    );
    await waitFor(
      'B has no flip pending',
      () => connector(w, b).stats.flipsQueued === connector(w, b).stats.flipsShown + connector(w, b).stats.flipsDropped,
    );
    const st = connector(w, b);
    const done = st.stats.flipsShown + st.stats.flipsDropped;
    const backlog = done - st.eventsWritten - st.stats.eventsDropped;
    assert.equal(st.eventsWritten, EVT_RING_LEN, 'the page is full and nothing more is written to it');
    assert.equal(backlog, DEFAULT_EVENT_QUEUE_LIMIT, 'the queue holds exactly its limit');
    assert.equal(
      st.stats.eventsDropped,
      done - EVT_RING_LEN - DEFAULT_EVENT_QUEUE_LIMIT,
      'every event beyond it dropped and counted',
    );
    assert.ok(st.stats.eventsDropped >= 100);
    // A: every event, in order, none queued or dropped.
    assert.deepEqual(
      w.fe.events(0).map((e) => e.id),
      Array.from({ length: 20 }, (_, i) => i),
    );
    const a = connector(w, w);
    assert.deepEqual([a.stats.eventsQueued, a.stats.eventsDropped], [0, 0]);
    // B reads its page at last: the 63 there, then the queued ones follow, ids without a gap.
    assert.equal(b.fe.events(0).length, EVT_RING_LEN);
    await waitFor('the queued events', () => b.fe.events(0).length > EVT_RING_LEN, 3000);
    assert.deepEqual(
      b.fe.events(0).map((e) => e.id),
      Array.from({ length: b.fe.events(0).length }, (_, i) => i),
    );
  } finally {
    await w.close();
  }
});
