// The backend's XenBus life cycle over a real (simulated) xenstored with libxl's tree and
// permissions, an in-process platform and a minimal frontend: connect, serve, reconnect,
// frontend restart, protocol violation, bad values, toolstack removal, daemon restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XenbusState as S } from '../../src/displif/constants.js';
import { SRING } from '../../src/displif/wire-layout.js';
import { writeU32 } from '../../src/displif/bytes.js';
import { writePageDirectory } from '../../src/displif/page-directory.js';
import { DisplayBackend } from '../../src/backend/backend.js';
import { conventionalErrorPath } from '../../src/backend/device.js';
import { silentLogger } from '../../src/util/log.js';
import { pino } from 'pino';
import { cookie, type GrantRef } from '../../src/util/ids.js';
import { waitFor } from './helpers/test-frontend.js';
import { FE, assertNothingHeld, showBuffer, world } from './helpers/xs-world.js';

void test('connect, serve two connectors, events in order per connector, release on frontend Closing, reconnect from id 0', async () => {
  const w = await world();
  try {
    await w.fe.connect(2);
    assert.equal(await w.dom0.read(`${w.paths.backend}/versions`), '1,2');
    await showBuffer(w, 0, 1n, 11n, 640, 480);
    await showBuffer(w, 1, 2n, 12n, 320, 240);
    assert.equal(w.headless.outputs().length, 2);
    for (let i = 0; i < 10; i++) {
      const r = await w.fe.request(i % 2, { kind: 'pg-flip', fbCookie: cookie(i % 2 ? 12n : 11n) });
      assert.equal(r.status, 0);
      assert.equal(r.operation, 0x15, 'operation echoed');
      assert.ok(r.reservedZero, 'no stale bytes in the response');
      // Like Linux: the next flip on a connector only after the previous one's event.
      if (i % 2 === 1)
        await waitFor(
          'flip events',
          () => w.fe.events(0).length === (i + 1) / 2 && w.fe.events(1).length === (i + 1) / 2,
        );
    }
    await waitFor('all flip events', () => w.fe.events(0).length === 5 && w.fe.events(1).length === 5);
    assert.deepEqual(
      w.fe.events(0).map((e) => e.id),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      w.fe.events(1).map((e) => e.id),
      [0, 1, 2, 3, 4],
    );
    assert.ok(w.fe.events(1).every((e) => e.type === 0 && e.fbCookie === cookie(12n) && e.reservedZero));
    const st = w.backend.status()[0]!;
    assert.equal(st.phase, 'connected');
    assert.equal(st.connectors[0]!.stats.flipsShown, 5);
    const frame = w.headless.output('dom5.0.id1')!.currentFrame()!;
    assert.equal(frame.rgba[(100 * 320 + 7) * 4], 100, 'the guest picture is on the output');
    assert.deepEqual(w.backend.resources(), {
      devices: 1,
      connected: 1,
      buffers: 2,
      framebuffers: 2,
      bufferPages: 300 + 75,
    });

    // Driver removal in the guest: Closing, and it waits for InitWait.
    await w.fe.setState(S.Closing);
    await w.fe.waitBackend(S.InitWait);
    await w.backend.settled();
    assertNothingHeld(w, 'after frontend Closing');

    // Reconnect: new rings, event ids from 0 again.
    await w.fe.setState(S.Initialising);
    await w.fe.publish(2);
    await w.fe.waitBackend(S.Connected);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    assert.equal((await w.fe.request(0, { kind: 'pg-flip', fbCookie: cookie(11n) })).status, 0);
    await waitFor('event after reconnect', () => w.fe.events(0).length === 1);
    assert.equal(w.fe.events(0)[0]!.id, 0);
  } finally {
    await w.close();
  }
});

void test('frontend restart while connected (back to Initialising) tears down to InitWait', async () => {
  const w = await world('connectors=id0:640x480');
  try {
    await w.fe.connect(1);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    await w.fe.setState(S.Initialising);
    await w.fe.waitBackend(S.InitWait);
    await w.backend.settled();
    assertNothingHeld(w, 'after frontend restart');
    await w.fe.publish(1);
    await w.fe.waitBackend(S.Connected);
  } finally {
    await w.close();
  }
});

void test('a ring protocol violation closes that frontend with an error node; it may reconnect after restarting', async () => {
  const w = await world('connectors=id0:640x480');
  try {
    await w.fe.connect(1);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    // req_prod far beyond what the ring can hold.
    writeU32(w.guest.page(w.fe.chans[0]!.ringRef), SRING.req_prod, 1000);
    w.platform.fire(w.fe.chans[0]!.reqPort);
    await w.fe.waitBackend(S.Closed);
    const err = await w.dom0.read(`${w.paths.backend}/error`);
    assert.match(err, /ring protocol.*req_prod 1000/);
    await w.backend.settled();
    assertNothingHeld(w, 'after violation');
    // What Linux does on backend Closed: back to Initialising; we offer InitWait again.
    await w.fe.setState(S.Initialising);
    await w.fe.waitBackend(S.InitWait);
    assert.equal(await w.dom0.tryRead(`${w.paths.backend}/error`), undefined, 'error cleared on a fresh offer');
    await w.fe.publish(1);
    await w.fe.waitBackend(S.Connected);
  } finally {
    await w.close();
  }
});

void test('bad frontend values fail the device alone, naming the key and the value', async () => {
  const w = await world('connectors=id0:640x480');
  try {
    await w.fe.waitBackend(S.InitWait);
    await w.fe.publish(1, (k, v) => (k === '0/evt-ring-ref' ? '0x10' : v));
    await w.fe.waitBackend(S.Closed);
    assert.match(await w.dom0.read(`${w.paths.backend}/error`), /0\/evt-ring-ref = "0x10": expected a decimal integer/);
    // The XenBus convention's place as well: <own home>/error/<backend path below the home>/error.
    const conv = conventionalErrorPath(w.paths.backend)!;
    assert.equal(conv, `/local/domain/0/error/backend/vdispl/${FE}/0/error`);
    assert.match(await w.dom0.read(conv), /^22 .*0\/evt-ring-ref = "0x10": expected a decimal integer/);
    // A ref the guest never granted: the map fails.
    await w.fe.setState(S.Initialising);
    await w.fe.waitBackend(S.InitWait);
    assert.equal(await w.dom0.tryRead(conv), undefined, 'conventional error node removed when served again');
    assert.equal(
      await w.dom0.tryRead(`${w.paths.backend}/error`),
      undefined,
      'backend error node removed when served again',
    );
    assert.equal(
      await w.dom0.tryRead('/local/domain/0/error/backend'),
      undefined,
      'no empty directories left under error/',
    );
    await w.fe.publish(1, (k, v) => (k === '0/req-ring-ref' ? '123456' : v));
    await w.fe.waitBackend(S.Closed);
    assert.match(
      await w.dom0.read(`${w.paths.backend}/error`),
      /connector 0 req-ring-ref = "123456": cannot map the page/,
    );
    assert.match(await w.dom0.read(conv), /^22 connector 0 req-ring-ref = "123456": cannot map the page/);
    await w.backend.settled();
    assertNothingHeld(w, 'after failed connects');
    // The toolstack removes the backend directory, not dom0's error/ tree: the daemon does.
    await w.toolstack.removeVdispl(w.paths, { timeoutMs: 5000 });
    await waitFor('device forgotten', () => w.backend.status().length === 0);
    assert.equal(await w.dom0.tryRead(conv), undefined, 'conventional error node removed with the device');
    assert.equal(
      await w.dom0.tryRead('/local/domain/0/error/backend'),
      undefined,
      'no empty directories left under error/',
    );
  } finally {
    await w.close();
  }
});

void test('a bad connector value closes the device until the frontend restarts; an unknown mapped output fails it for good', async () => {
  // The connector set lives in directories the guest owns: a bad value there is the frontend's.
  const w = await world('connectors=id0:5000x100');
  try {
    await w.fe.waitBackend(S.InitWait);
    await w.fe.publish(1);
    await w.fe.waitBackend(S.Closed);
    assert.match(await w.dom0.read(`${w.paths.backend}/error`), /0\/resolution = "5000x100": larger than 4095x2047/);
    assert.equal(w.backend.status()[0]!.phase, 'closed-retry');
    // libxl's nodes are read-only to the guest, but their directory is the guest's: remove, write again.
    await w.guestXs.rm(`${w.paths.frontend}/0`);
    await w.guestXs.write(`${w.paths.frontend}/0/unique-id`, 'id0');
    await w.guestXs.write(`${w.paths.frontend}/0/resolution`, '640x480');
    await w.fe.setState(S.Initialising);
    await w.fe.waitBackend(S.InitWait);
  } finally {
    await w.close();
  }
  // dom0's own mapping naming an output that does not exist is the operator's to fix.
  const w2 = await world('connectors=id0:640x480', { connectorMap: new Map([['guest5/id0', 'HDMI-A-9']]) });
  try {
    await w2.fe.waitBackend(S.InitWait);
    await w2.fe.publish(1);
    await w2.fe.waitBackend(S.Closed);
    assert.match(
      await w2.dom0.read(`${w2.paths.backend}/error`),
      /mapped by guest5\/id0 to output "HDMI-A-9", which does not exist/,
    );
    await w2.fe.setState(S.Initialising);
    await w2.backend.settled();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await w2.fe.state(), S.Closed, 'no retry of a configuration fault');
    assert.equal(w2.backend.status()[0]!.phase, 'failed');
  } finally {
    await w2.close();
  }
});

void test('toolstack removal: release, Closed well inside libxl 10 s, device forgotten', async () => {
  const w = await world('connectors=id0:640x480');
  try {
    await w.fe.connect(1);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    const r = await w.toolstack.removeVdispl(w.paths, { timeoutMs: 5000 });
    assert.deepEqual(r, { outcome: 'closed', forced: false });
    await waitFor('device forgotten', () => w.backend.status().length === 0);
    assertNothingHeld(w, 'after removal');
  } finally {
    await w.close();
  }
});

void test('daemon restart: a new backend finds the live device and the frontend reconnects', async () => {
  const w = await world('connectors=id0:640x480');
  try {
    await w.fe.connect(1);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
    await w.backend.close();
    assert.equal(await w.fe.state(), S.Closed, 'a stopping daemon tells the frontend');
    assertNothingHeld(w, 'after daemon stop');
    // The frontend drops its device (Linux: Reconfiguring, then Initialising).
    await w.fe.setState(S.Initialising);
    w.backend = await DisplayBackend.start({
      xs: w.beXs,
      platform: w.platform,
      outputs: w.outputs,
      log: silentLogger(),
    });
    await w.fe.waitBackend(S.InitWait);
    await w.fe.publish(1);
    await w.fe.waitBackend(S.Connected);
    await showBuffer(w, 0, 1n, 11n, 64, 48);
  } finally {
    await w.close();
  }
});

void test('be-alloc device: the backend allocates, grants, and fills the directory', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  // libxl records the domain type; a PV guest's programs cannot mmap be-alloc buffers (e2e s7)
  const w = await world('be-alloc=1,connectors=id0:64x48', {
    log,
    before: (dom0) => dom0.write(`/libxl/${FE}/type`, 'pv'),
  });
  try {
    await w.fe.connect(1);
    const warned = lines.filter((l) => /x86 PV guest with be-alloc=1/.test(l));
    assert.equal(warned.length, 1, 'one warning that a PV guest cannot mmap be-alloc buffers');
    const dirRefs = w.guest.grantPages(1);
    writePageDirectory([w.guest.page(dirRefs[0]!)], dirRefs, [1 as GrantRef, 1 as GrantRef, 1 as GrantRef]);
    const r = await w.fe.request(0, {
      kind: 'dbuf-create',
      dbufCookie: cookie(1n),
      geometry: { width: 64, height: 48, bpp: 32 },
      bufferSz: 64 * 48 * 4,
      beAlloc: true,
      grefDirectory: dirRefs[0]!,
      dataOfs: 0,
    });
    assert.equal(r.status, 0);
    assert.equal(w.platform.resources().grantedBuffers, 1);
    const listed = [1, 2, 3].map((i) =>
      new DataView(w.guest.page(dirRefs[0]!).buffer, w.guest.page(dirRefs[0]!).byteOffset).getUint32(4 * i, true),
    );
    assert.ok(
      listed.every((ref) => w.platform.backendGrants.has(ref)),
      'the directory names our granted pages',
    );
    assert.equal((await w.fe.request(0, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) })).status, 0);
    assert.equal(w.platform.resources().grantedBuffers, 0);
  } finally {
    await w.close();
  }
});
