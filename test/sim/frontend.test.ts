// The simulated xen-drm-front in its own process against a minimal backend scripted by the test:
// the XenBus handshake, every request as the Linux driver sends it, responses and events as it
// checks them, be-alloc, PRIME-style buffers, reconnection, removal and destruction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readU32, readU64 } from '../../src/displif/bytes.js';
import { DBUF_FLG_REQ_ALLOC, Op, XenbusState } from '../../src/displif/constants.js';
import { fourcc } from '../../src/displif/formats.js';
import { REQ } from '../../src/displif/wire-layout.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import { SimHost, type SimGuest } from '../../src/sim/host.js';
import { MiniBackend } from './mini-backend.js';
import { until } from './helpers.js';

async function withGuest(
  spec: string,
  fn: (host: SimHost, guest: SimGuest, be: MiniBackend) => Promise<void>,
  behaviour: Parameters<SimHost['createDomain']>[0] = {},
): Promise<void> {
  const host = await SimHost.start();
  try {
    const platform = await host.platform();
    const xs = await host.xenstore();
    const guest = await host.createDomain({ vdispl: [spec], frontend: { kind: 'idle' }, ...behaviour });
    const be = new MiniBackend(xs, platform, guest.domid);
    await be.start();
    try {
      await fn(host, guest, be);
      assert.deepEqual(
        guest.reports.filter((r) => r.kind === 'error' || r.kind === 'ring-violation'),
        [],
        'the guest saw no error',
      );
    } finally {
      await be.close();
    }
  } finally {
    await host.close();
  }
}

const isKind =
  <K extends FrontendReport['kind']>(
    kind: K,
    pred: (r: Extract<FrontendReport, { kind: K }>) => boolean = () => true,
  ) =>
  (r: FrontendReport): r is Extract<FrontendReport, { kind: K }> =>
    r.kind === kind && pred(r as Extract<FrontendReport, { kind: K }>);

void test('handshake: Initialising → Initialised with rings published in one go → Connected', async () => {
  await withGuest('connectors=c0:320x240;c1:128x64', async (host, guest, be) => {
    const connected = await guest.waitFor(isKind('connected'));
    assert.deepEqual(connected.connectors, [
      { width: 320, height: 240 },
      { width: 128, height: 64 },
    ]);
    assert.equal(connected.beAlloc, false);
    await guest.waitFor(isKind('state', (r) => r.frontend === XenbusState.Connected));
    const states = guest.reports.filter(isKind('state')).map((r) => r.frontend);
    assert.deepEqual([...new Set(states)], [XenbusState.Initialising, XenbusState.Initialised, XenbusState.Connected]);
    const xs = await host.xenstore();
    for (const i of [0, 1]) {
      for (const k of ['req-ring-ref', 'req-event-channel', 'evt-ring-ref', 'evt-event-channel']) {
        assert.match(await xs.read(`${be.fe}/${i}/${k}`), /^\d+$/, `${i}/${k}`);
      }
    }
    assert.equal(await xs.read(`${be.fe}/state`), String(XenbusState.Connected));
    assert.equal(await xs.tryRead(`${be.fe}/version`), undefined, 'Linux 6.1 never writes version');
  });
});

void test('the request path: each DRM call is one request, filled as Linux fills it, answered verbatim', async () => {
  await withGuest('connectors=c0:320x240;c1:128x64', async (_host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    be.answer = (r) => (r.op === Op.FB_ATTACH && readU32(r.bytes, REQ.fbAttach.width) === 999 ? -22 : 0);
    const results = await guest.run([
      { op: 'dumb-create', name: 'a', width: 320, height: 240, bpp: 32 },
      { op: 'draw', buffer: 'a', frame: 5, format: 'XRGB8888', width: 320, height: 240 },
      { op: 'add-fb', name: 'bad', buffer: 'a', width: 999, height: 240, format: 'XRGB8888' },
      { op: 'add-fb', name: 'fa', buffer: 'a', width: 320, height: 240, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'fa' },
      { op: 'flip', conn: 0, fb: 'fa' },
      { op: 'disable', conn: 0 },
      { op: 'rm-fb', fb: 'fa' },
      { op: 'gem-close', buffer: 'a' },
    ]);
    assert.deepEqual(
      results.map((r) => [r.op, r.status]),
      [
        ['dumb-create', 0],
        ['draw', 0],
        ['add-fb', -22],
        ['add-fb', 0],
        ['enable', 0],
        ['flip', 0],
        ['disable', 0],
        ['rm-fb', 0],
        ['gem-close', 0],
      ],
    );
    assert.equal(results[0]!.pitch, 1280);
    assert.equal(results[5]!.flip, 'event');
    const reqs = be.requests;
    assert.deepEqual(
      reqs.map((r) => [r.conn, r.op, r.id]),
      [
        [0, Op.DBUF_CREATE, 0],
        [0, Op.FB_ATTACH, 1],
        [0, Op.FB_ATTACH, 2],
        [0, Op.SET_CONFIG, 3],
        [0, Op.PG_FLIP, 4],
        [0, Op.SET_CONFIG, 5],
        [0, Op.FB_DETACH, 6],
        [0, Op.DBUF_DESTROY, 7],
      ],
    );
    const create = reqs[0]!.bytes;
    assert.equal(readU32(create, REQ.dbufCreate.width), 320);
    assert.equal(readU32(create, REQ.dbufCreate.height), 240);
    assert.equal(readU32(create, REQ.dbufCreate.bpp), 32);
    assert.equal(readU32(create, REQ.dbufCreate.bufferSz), 320 * 240 * 4);
    assert.equal(readU32(create, REQ.dbufCreate.flags), 0);
    const dbuf = readU64(create, REQ.dbufCreate.dbufCookie);
    assert.ok(dbuf > 0xffff000000000000n, 'cookies look like kernel pointers');
    const attach = reqs[2]!.bytes;
    assert.equal(readU64(attach, REQ.fbAttach.dbufCookie), dbuf);
    assert.equal(readU32(attach, REQ.fbAttach.pixelFormat), fourcc('XR24'));
    const fb = readU64(attach, REQ.fbAttach.fbCookie);
    const cfg = reqs[3]!.bytes;
    assert.deepEqual(
      [
        readU64(cfg, REQ.setConfig.fbCookie),
        readU32(cfg, REQ.setConfig.width),
        readU32(cfg, REQ.setConfig.height),
        readU32(cfg, REQ.setConfig.bpp),
      ],
      [fb, 320, 240, 32],
    );
    assert.equal(readU64(reqs[4]!.bytes, REQ.pgFlip.fbCookie), fb);
    assert.ok(
      reqs[5]!.bytes.subarray(8, 40).every((x) => x === 0),
      'disable is SET_CONFIG of all zeros',
    );
    // Zero copy across processes: the backend read the guest's pixels through its own mapping.
    assert.deepEqual(be.flips[0]?.frame, { frame: 5, domid: guest.domid, connector: 0, barsOk: true });
    assert.equal(be.buffers.size, 0);
    const reqReports = guest.reports.filter(isKind('request'));
    assert.equal(reqReports.length, 8);
    assert.deepEqual(reqReports[1]!.status, -22);
  });
});

void test("a response without the request's operation is ignored and the request times out after 3 s; an event with the wrong id is dropped and the flip released after 3.1 s", async () => {
  await withGuest('connectors=c0:128x64', async (_host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    const setup = await guest.run([
      { op: 'dumb-create', name: 'a', width: 128, height: 64, bpp: 32 },
      { op: 'add-fb', name: 'f', buffer: 'a', width: 128, height: 64, format: 'XRGB8888' },
    ]);
    assert.deepEqual(
      setup.map((r) => r.status),
      [0, 0],
    );
    be.answer = (r) => (r.op === Op.SET_CONFIG ? 'wrong-op' : 0);
    be.eventIdOffset = 7;
    const [enable, flip] = await guest.run([
      { op: 'enable', conn: 0, fb: 'f' },
      { op: 'flip', conn: 0, fb: 'f' },
    ]);
    assert.equal(enable!.status, -110);
    assert.ok(enable!.ms >= 2900, `timed out after ${enable!.ms} ms`);
    assert.ok(
      guest.reports.some(isKind('ignored-response', (r) => r.operation === 0 && r.why === 'operation not echoed')),
    );
    assert.ok(guest.reports.some(isKind('timeout', (r) => r.op === Op.SET_CONFIG)));
    assert.equal(flip!.status, 0, 'PG_FLIP itself was answered');
    assert.equal(flip!.flip, 'timeout', 'the vblank event came from the 3100 ms timer');
    assert.ok(flip!.ms >= 3000, `released after ${flip!.ms} ms`);
    assert.ok(guest.reports.some(isKind('event-dropped', (r) => r.expectedId === 0 && r.gotId === 7)));
  });
});

void test('stale slot bytes: a request lands on the response written 32 requests before it, status included', async () => {
  await withGuest('connectors=c0:128x64', async (_host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    let first = true;
    be.answer = (r) => {
      if (r.op === Op.SET_CONFIG && first) {
        first = false;
        return -22;
      }
      return 0;
    };
    const steps = Array.from({ length: 33 }, () => ({ op: 'disable' as const, conn: 0 }));
    const results = await guest.run(steps);
    assert.equal(results[0]!.status, -22);
    assert.ok(results.slice(1).every((r) => r.status === 0));
    const r32 = be.requests[32]!;
    assert.equal(r32.id, 32);
    // Slot 0 held the -EINVAL response; the driver rewrote id, operation and its own fields only.
    assert.equal(readU32(r32.bytes, 4) | 0, -22, 'reserved bytes 4..7 carry the old status');
    assert.equal(r32.bytes[3], 0);
  });
});

void test("be-alloc: REQ_ALLOC is set, the guest maps the backend's pages, and releases them before DBUF_DESTROY", async () => {
  await withGuest('be-alloc=1,connectors=c0:64x32', async (host, guest, be) => {
    const c = await guest.waitFor(isKind('connected'));
    assert.equal(c.beAlloc, true);
    const refsBefore = host.grantStats(0)!.allocatedRefs;
    const results = await guest.run([
      { op: 'dumb-create', name: 'a', width: 64, height: 32, bpp: 32 },
      { op: 'draw', buffer: 'a', frame: 77, format: 'XRGB8888', width: 64, height: 32 },
      { op: 'add-fb', name: 'f', buffer: 'a', width: 64, height: 32, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'f' },
      { op: 'flip', conn: 0, fb: 'f' },
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      [0, 0, 0, 0, 0],
    );
    assert.ok(readU32(be.requests[0]!.bytes, REQ.dbufCreate.flags) & DBUF_FLG_REQ_ALLOC);
    assert.equal(host.grantStats(0)!.allocatedRefs, refsBefore + 2, 'the backend granted 2 pages');
    assert.equal(be.flips[0]?.frame?.frame, 77, "the guest drew into the backend's pages");
    await guest.run([
      { op: 'rm-fb', fb: 'f' },
      { op: 'gem-close', buffer: 'a' },
    ]);
    await be.sync();
    assert.equal(host.grantStats(0)!.allocatedRefs, refsBefore, 'granted pages ended once the guest unmapped them');
  });
});

void test('PRIME import: DBUF_CREATE with zero geometry and data_ofs; geometry comes with FB_ATTACH', async () => {
  await withGuest('connectors=c0:64x32', async (_host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    const results = await guest.run([
      { op: 'prime-import', name: 'p', size: 64 * 32 * 2 + 256, offset: 256 },
      { op: 'draw', buffer: 'p', frame: 3, format: 'RGB565', width: 64, height: 32 },
      { op: 'add-fb', name: 'f', buffer: 'p', width: 64, height: 32, format: 'RGB565' },
      { op: 'enable', conn: 0, fb: 'f' },
      { op: 'flip', conn: 0, fb: 'f' },
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      [0, 0, 0, 0, 0],
    );
    const b = be.requests[0]!.bytes;
    assert.deepEqual(
      [
        readU32(b, REQ.dbufCreate.width),
        readU32(b, REQ.dbufCreate.height),
        readU32(b, REQ.dbufCreate.bpp),
        readU32(b, REQ.dbufCreate.dataOfs),
        readU32(b, REQ.dbufCreate.bufferSz),
      ],
      [0, 0, 0, 256, 64 * 32 * 2 + 256],
    );
    assert.equal(be.flips[0]?.frame?.frame, 3);
  });
});

void test('reconnection: backend Closed → Reconfiguring → Initialising; backend InitWait again → a fresh handshake, event ids from 0', async () => {
  await withGuest('connectors=c0:64x32', async (_host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    await guest.run([
      { op: 'dumb-create', name: 'a', width: 64, height: 32, bpp: 32 },
      { op: 'add-fb', name: 'f', buffer: 'a', width: 64, height: 32, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'f' },
      { op: 'flip', conn: 0, fb: 'f' },
    ]);
    be.teardown();
    await be.setState(XenbusState.Closed);
    await guest.waitFor(isKind('disconnected'));
    await guest.waitFor(
      isKind('state', (r) => r.frontend === XenbusState.Initialising && r.backend === XenbusState.Closed),
      { timeoutMs: 5000 },
    );
    const seen = guest.reports.filter(isKind('state')).map((r) => r.frontend);
    assert.ok(seen.includes(XenbusState.Reconfiguring));
    const before = guest.reports.filter(isKind('connected')).length;
    await be.setState(XenbusState.InitWait);
    await guest.waitFor(isKind('connected'), { fresh: true });
    assert.equal(guest.reports.filter(isKind('connected')).length, before + 1);
    const again = await guest.run([
      { op: 'dumb-create', name: 'b', width: 64, height: 32, bpp: 32 },
      { op: 'add-fb', name: 'g', buffer: 'b', width: 64, height: 32, format: 'XRGB8888' },
      { op: 'enable', conn: 0, fb: 'g' },
      { op: 'flip', conn: 0, fb: 'g' },
    ]);
    assert.deepEqual(
      again.map((r) => r.status),
      [0, 0, 0, 0],
    );
    assert.equal(again[3]!.flip, 'event', 'the first event after reconnecting has id 0 again');
    const reqIds = be.requests.slice(-4).map((r) => r.id);
    assert.deepEqual(reqIds, [0, 1, 2, 3], 'request ids restart with the new ring');
  });
});

void test('a display guest flips real frames; the backend sees every frame number in order, then the guest cleans up', async () => {
  await withGuest(
    'connectors=c0:160x90;c1:64x64',
    async (_host, guest, be) => {
      const stopped = await guest.waitFor(isKind('stopped'), { timeoutMs: 20_000 });
      assert.deepEqual(stopped.frames, [6, 6]);
      for (const conn of [0, 1]) {
        const frames = be.flips.filter((f) => f.conn === conn).map((f) => f.frame);
        assert.deepEqual(
          frames.map((f) => f?.frame),
          [1, 2, 3, 4, 5, 6],
        );
        assert.ok(frames.every((f) => f?.barsOk && f.connector === conn && f.domid === guest.domid));
      }
      const shown = guest.reports.filter(isKind('frame'));
      assert.equal(shown.length, 12);
      assert.ok(shown.every((f) => f.flip === 'event' && f.status === 0));
      assert.equal(be.buffers.size, 0, 'every DBUF_DESTROY arrived');
      assert.equal(be.fbs.size, 0, 'every FB_DETACH arrived');
    },
    { frontend: { kind: 'display', frames: 6, formats: ['XRGB8888', 'YUYV'] } },
  );
});

void test('toolstack removal and domain destroy: the guest closes, a backend that still maps pages keeps a zombie', async () => {
  await withGuest('connectors=c0:64x32', async (host, guest, be) => {
    await guest.waitFor(isKind('connected'));
    const r = await host.removeVdispl(guest.domid, 0);
    assert.deepEqual(r, { outcome: 'closed', forced: false });
    await guest.waitFor(isKind('removed'));
    const states = guest.reports.filter(isKind('state')).map((s) => s.frontend);
    assert.equal(states[states.length - 1], XenbusState.Closed);

    await be.close();
    // A second device whose buffer the backend keeps mapped when the domain is destroyed.
    const xs = await host.xenstore();
    const released: string[] = [];
    const w = await xs.watch('@releaseDomain', (p) => released.push(p));
    const dev = await host.addVdispl(guest.domid, 'connectors=c0:64x32');
    const be2 = new MiniBackend(xs, await host.platform(), guest.domid, dev.devid);
    await be2.start();
    await guest.waitFor(isKind('connected'), { fresh: true });
    const made = await guest.run([{ op: 'dumb-create', name: 'a', width: 64, height: 32, bpp: 32 }]);
    assert.equal(made[0]!.status, 0);
    assert.equal(be2.buffers.size, 1);
    // This backend ignores Closing: libxl waits (200 ms here instead of 10 s), forces, and destroys anyway.
    be2.ignoreClosing = true;
    const before = released.length;
    await host.destroyDomain(guest.domid, { deviceTimeoutMs: 200 });
    await guest.exited;
    await until(() => released.length > before, 5000, '@releaseDomain');
    assert.deepEqual(host.zombies(), [guest.domid], "the backend still maps the dead guest's pages");
    assert.equal(host.hypervisor.domainState(guest.domid), 'zombie');
    be2.teardown();
    await be2.sync();
    await host.hypervisor.waitNoZombies(5000);
    assert.deepEqual(host.zombies(), []);
    await be2.close();
    await w.close();
    void be;
  });
});

void test('a hostile guest is reproducible from its seed and survives its own attacks', async () => {
  const attacks = [
    'bad-cookies',
    'lying-sizes',
    'directory-loops',
    'revoked-grants',
    'event-storm',
    'random-bytes',
    'unknown-ops',
    'event-page',
  ] as const;
  const summaries: Extract<FrontendReport, { kind: 'hostile-summary' }>[] = [];
  for (let run = 0; run < 2; run++) {
    await withGuest(
      'connectors=c0:64x32;c1:64x32',
      async (_host, guest, be) => {
        const s = await guest.waitFor(isKind('hostile-summary'), { timeoutMs: 60_000 });
        summaries.push(s);
        assert.equal(s.operations, 30);
        assert.equal(s.timeouts, 0, 'a backend that answers every request');
        assert.ok(
          Object.keys(s.statuses).some((k) => Number(k) < 0),
          'bad requests were refused',
        );
        assert.ok(be.requests.length > 0);
      },
      { frontend: { kind: 'hostile', seed: 1234, operations: 30, attacks } },
    );
  }
  assert.deepEqual(summaries[0]!.byAttack, summaries[1]!.byAttack, 'same seed, same attacks');
});

void test('a corrupted ring index gets the guest dropped by the backend; the guest reports what it saw', async () => {
  await withGuest(
    'connectors=c0:64x32',
    async (_host, guest, be) => {
      const s = await guest.waitFor(isKind('hostile-summary'), { timeoutMs: 20_000 });
      assert.equal(s.backendClosed, true);
      assert.ok(be.violations.length >= 1);
      await guest.waitFor(isKind('disconnected'));
    },
    { frontend: { kind: 'hostile', seed: 7, operations: 1, attacks: ['ring-corruption'] } },
  );
});
