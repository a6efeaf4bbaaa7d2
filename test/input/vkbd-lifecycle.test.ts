// vkbd devices over a real (simulated) xenstored with libxl's tree and permissions, an in-process
// platform and a hand-driven frontend playing Linux xen-kbdfront (and a hostile one): features and
// geometry published with InitWait, connect on Initialised or on Connected, input delivered on the
// ring, and each fault closing that vkbd alone with the XenBus error node while the display beside
// it stays connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenbusState as S } from '../../src/displif/constants.js';
import { DisplayBackend } from '../../src/backend/backend.js';
import { conventionalErrorPath } from '../../src/backend/device.js';
import { OutputMap } from '../../src/backend/output-map.js';
import { VkbdBackend } from '../../src/backend/vkbd-backend.js';
import { CONNECTOR_WAIT_MS } from '../../src/backend/vkbd-protocol.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { InputRouter } from '../../src/input/router.js';
import { KBD_PAGE } from '../../src/kbdif/wire-layout.js';
import { InRingConsumer } from '../../src/kbdif/shared-page.js';
import { plainSharedMemory } from '../../src/displif/shared-memory.js';
import { Toolstack, type VkbConfig } from '../../src/sim/toolstack.js';
import { parseVdisplSpec } from '../../src/sim/vdispl-config.js';
import { startXenstored } from '../../src/sim/xenstored/index.js';
import { XenStoreClient, unixSocketTransport } from '../../src/xenstore/index.js';
import { silentLogger } from '../../src/util/log.js';
import { FakePlatform } from '../backend/helpers/fake-platform.js';
import { waitFor } from '../backend/helpers/test-frontend.js';

const FE = 5;

async function world(vkb: VkbConfig = { uniqueId: 'id0' }, vdispl = 'connectors=id0:640x480', vdisplAfterMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-vkbd-'));
  const xsd = await startXenstored({ socketPath: join(dir, 'xs') });
  const connect = (p: string) => XenStoreClient.connect({ transport: unixSocketTransport(p), reconnect: false });
  const dom0 = await connect(xsd.socketPath);
  const beXs = await connect(xsd.socketPath);
  const toolstack = new Toolstack(dom0);
  await toolstack.createDomainNodes(FE, 'guest5', '00000000-0000-0000-0000-000000000005', 65536);
  const guestXs = await connect(await xsd.introduceDomain(FE));
  const platform = new FakePlatform();
  const guest = platform.guest(FE, 64);
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({ backends: [headless], onDemand: headless });
  const log = silentLogger();
  const display = await DisplayBackend.start({ xs: beXs, platform, outputs, log });
  const router = new InputRouter();
  const vkbd = await VkbdBackend.start({ xs: beXs, platform, router, log, outputs });
  // libxl writes vkb devices before vdispl ones.
  // vdisplAfterMs < 0: the test adds the vdispl device itself.
  let disp = vdisplAfterMs === undefined ? await toolstack.addVdispl(FE, 0, parseVdisplSpec(vdispl)) : undefined;
  const kbd = await toolstack.addVkb(FE, 0, vkb);
  if (vdisplAfterMs !== undefined && vdisplAfterMs >= 0) {
    await new Promise((r) => setTimeout(r, vdisplAfterMs));
    disp = await toolstack.addVdispl(FE, 0, parseVdisplSpec(vdispl));
  }
  const be = (k: string): Promise<string | undefined> => dom0.tryRead(`${kbd.backend}/${k}`);
  return {
    dom0,
    guestXs,
    toolstack,
    platform,
    guest,
    router,
    vkbd,
    display,
    disp,
    kbd,
    be,
    close: async () => {
      await vkbd.close();
      await display.close();
      await headless.close();
      for (const c of [guestXs, beXs, dom0]) await c.close();
      await xsd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
type World = Awaited<ReturnType<typeof world>>;

/** What xen-kbdfront's probe does: request what is offered, grant a page, publish, go Initialised. */
async function probe(
  w: World,
  opts: { gref?: string; port?: string } = {},
): Promise<{ page: Uint8Array; ref: number; port: number }> {
  const fe = w.kbd.frontend;
  if ((await w.be('feature-multi-touch')) === '1') await w.guestXs.write(`${fe}/request-multi-touch`, '1');
  if ((await w.be('feature-abs-pointer')) === '1') await w.guestXs.write(`${fe}/request-abs-pointer`, '1');
  const [ref] = w.guest.grantPages(1);
  const port = 77;
  await w.guestXs.write(`${fe}/page-ref`, '123');
  await w.guestXs.write(`${fe}/page-gref`, opts.gref ?? String(ref));
  await w.guestXs.write(`${fe}/event-channel`, opts.port ?? String(port));
  await w.guestXs.write(`${fe}/state`, String(S.Initialised));
  return { page: w.guest.page(ref!), ref: ref!, port };
}

const backendState = async (w: World): Promise<number> => Number(await w.be('state'));
const waitState = (w: World, s: number): Promise<true> =>
  waitFor(`vkbd backend state ${s}`, async () => (await backendState(w)) === s, 5000);

void test('InitWait carries the features and the matching connector geometry; the frontend may be Initialised or already Connected', async () => {
  const w = await world();
  try {
    await waitState(w, S.InitWait);
    const keys = [
      'feature-abs-pointer',
      'feature-raw-pointer',
      'feature-multi-touch',
      'width',
      'height',
      'multi-touch-width',
      'multi-touch-height',
      'multi-touch-num-contacts',
    ];
    assert.deepEqual(await Promise.all(keys.map((k) => w.be(k))), ['1', '1', '1', '640', '480', '640', '480', '10']);
    const { page } = await probe(w);
    // Linux goes Connected by itself when it sees InitWait, possibly before we saw Initialised.
    await w.guestXs.write(`${w.kbd.frontend}/state`, String(S.Connected));
    await waitState(w, S.Connected);
    const t = w.router.list();
    assert.equal(t.length, 1);
    assert.deepEqual(
      {
        abs: t[0]!.absPointer,
        mt: t[0]!.multiTouch,
        raw: t[0]!.rawPointer,
        w: t[0]!.width,
        h: t[0]!.height,
        id: t[0]!.uniqueId,
      },
      { abs: true, mt: true, raw: false, w: 640, h: 480, id: 'id0' },
    );
    // No focus, no input.
    w.router.deliver([{ kind: 'key', code: 30, pressed: true }]);
    assert.equal(new InRingConsumer(plainSharedMemory(page)).consume().events.length, 0);
    assert.ok(w.router.focusOn(FE, 0));
    w.router.deliver([
      { kind: 'abs', x: 100, y: 50, w: 200, h: 100 },
      { kind: 'key', code: 0x110, pressed: true },
      { kind: 'key', code: 0x110, pressed: false },
    ]);
    assert.deepEqual(new InRingConsumer(plainSharedMemory(page)).consume().events, [
      { kind: 'pos', absX: 320, absY: 240, relZ: 0 },
      { kind: 'key', keycode: 0x110, pressed: true },
      { kind: 'key', keycode: 0x110, pressed: false },
    ]);
    assert.ok((w.platform.notified.get(77) ?? 0) >= 1, 'the frontend was notified');
    // The toolstack removes the device: released, out of the router.
    await w.toolstack.removeVdispl(w.kbd, { timeoutMs: 3000 });
    await waitFor('vkbd gone', () => w.vkbd.status().length === 0);
    assert.equal(w.router.list().length, 0);
    await w.vkbd.settled();
    assert.deepEqual(
      w.platform.resources(),
      { grantMappings: 0, mappedPages: 0, exportedDmaBufs: 0, grantedBuffers: 0, eventChannels: 0 },
      'page unmapped, channel unbound',
    );
  } finally {
    await w.close();
  }
});

void test('the connector written after the vkbd (as libxl orders them) still gives the geometry', async () => {
  const w = await world({ uniqueId: 'id0' }, 'connectors=id0:800x600', 300);
  try {
    await waitState(w, S.InitWait);
    assert.deepEqual(
      [await w.be('feature-abs-pointer'), await w.be('width'), await w.be('height')],
      ['1', '800', '600'],
    );
  } finally {
    await w.close();
  }
});

void test('a connector later than the wait, before the guest probes, is still offered; after it, nothing changes', async () => {
  // On the loaded real-Xen lab libxl wrote the connector 11 s after the vkb device.
  let w = await world({ uniqueId: 'id0' }, 'connectors=id0:800x600', CONNECTOR_WAIT_MS + 1000);
  try {
    await waitFor(
      'the late connector offered',
      async () => (await w.be('feature-abs-pointer')) === '1' && (await w.be('width')) === '800',
      5000,
    );
    assert.deepEqual(
      [await w.be('state'), await w.be('height'), await w.be('feature-multi-touch'), await w.be('multi-touch-width')],
      ['2', '600', '1', '800'],
    );
    await probe(w);
    await waitFor('connected', () => w.router.list().length === 1);
    assert.deepEqual([w.router.list()[0]!.absPointer, w.router.list()[0]!.width], [true, 800]);
  } finally {
    await w.close();
  }
  w = await world({ uniqueId: 'id0' }, 'connectors=id0:800x600', -1);
  try {
    await waitState(w, S.InitWait);
    await probe(w);
    await w.toolstack.addVdispl(FE, 0, parseVdisplSpec('connectors=id0:800x600'));
    await waitFor('connected', () => w.router.list().length === 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      [await w.be('feature-abs-pointer'), await w.be('width'), w.router.list()[0]!.absPointer],
      ['0', undefined, false],
      'the guest probed without it: nothing is offered that it cannot have read',
    );
  } finally {
    await w.close();
  }
});

void test('an operator size wins; no connector and no size: keys and relative pointer only', async () => {
  let w = await world({ uniqueId: 'id0', width: 1024, height: 768 });
  try {
    await waitState(w, S.InitWait);
    assert.deepEqual(
      [await w.be('width'), await w.be('height'), await w.be('feature-abs-pointer')],
      ['1024', '768', '1'],
    );
  } finally {
    await w.close();
  }
  w = await world({ uniqueId: 'nope' });
  try {
    await waitState(w, S.InitWait);
    assert.deepEqual(
      [await w.be('feature-abs-pointer'), await w.be('feature-multi-touch'), await w.be('width')],
      ['0', '0', undefined],
    );
  } finally {
    await w.close();
  }
});

for (const c of [
  { name: 'an ungranted page', fault: { gref: '999' }, error: /page-gref = "999": cannot map the page/ },
  { name: 'garbage in event-channel', fault: { port: '12x' }, error: /event-channel = "12x"/ },
  { name: 'an event channel that cannot be bound', fault: { port: '5000' }, error: /cannot bind the event channel/ },
]) {
  void test(`${c.name} closes that vkbd with the error node; the display beside it stays connected`, async () => {
    const w = await world();
    try {
      await waitState(w, S.InitWait);
      await probe(w, c.fault);
      await waitState(w, S.Closed);
      assert.match((await w.be('error')) ?? '', c.error);
      assert.match((await w.dom0.tryRead(conventionalErrorPath(w.kbd.backend)!)) ?? '', c.error);
      assert.deepEqual(w.platform.resources().grantMappings, 0, 'nothing mapped for the vkbd');
      assert.equal(w.router.list().length, 0);
      assert.equal(w.display.status()[0]?.phase, 'initwait', 'the display device is untouched');
    } finally {
      await w.close();
    }
  });
}

void test('a lying out-ring or in_cons closes the vkbd and takes it out of the router; a restarted frontend reconnects', async () => {
  const w = await world();
  try {
    await waitState(w, S.InitWait);
    const { page, port } = await probe(w);
    await waitState(w, S.Connected);
    w.router.focusOn(FE, 0);
    const dv = new DataView(page.buffer, page.byteOffset);
    dv.setUint32(KBD_PAGE.out_prod, 3, true);
    w.platform.fire(port);
    await waitState(w, S.Closed);
    assert.match((await w.be('error')) ?? '', /frontend broke the ring protocol: out_prod moved from 0 to 3/);
    assert.equal(w.router.list().length, 0);
    assert.equal(w.router.focus, undefined, 'focus went with it');
    assert.equal(w.platform.resources().grantMappings, 0);
    // Linux goes Closed, then Connected again at our next InitWait, on the same page.
    dv.setUint32(KBD_PAGE.out_prod, 0, true);
    await w.guestXs.write(`${w.kbd.frontend}/state`, String(S.Closed));
    await waitState(w, S.InitWait);
    await w.guestXs.write(`${w.kbd.frontend}/state`, String(S.Connected));
    await waitState(w, S.Connected);
    assert.equal(await w.be('error'), undefined, 'the error node goes when the device is offered again');
    // in_cons ahead of in_prod.
    w.router.focusOn(FE, 0);
    dv.setUint32(KBD_PAGE.in_cons, 1000, true);
    w.router.deliver([{ kind: 'key', code: 30, pressed: true }]);
    await waitState(w, S.Closed);
    assert.match((await w.be('error')) ?? '', /in_cons 1000 is impossible/);
  } finally {
    await w.close();
  }
});

void test('a frontend that never answers holds nothing and keeps nothing else waiting', async () => {
  const w = await world();
  try {
    await waitState(w, S.InitWait);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(w.platform.resources(), {
      grantMappings: 0,
      mappedPages: 0,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      eventChannels: 0,
    });
    assert.equal(w.vkbd.status()[0]?.phase, 'initwait');
  } finally {
    await w.close();
  }
});
