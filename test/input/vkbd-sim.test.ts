// Multi-process: simulated guests (each its own OS process running a xen-kbdfront-like driver beside
// xen-drm-front) get their input through vdispld's vkbd backend and router: the position scaled to
// the connector, keys, a focus switch between two guests that releases what the first held, a flood
// that neither stalls the display nor grows a queue, and a guest destroyed mid-input leaving nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisplayBackend } from '../../src/backend/backend.js';
import { OutputMap } from '../../src/backend/output-map.js';
import { VkbdBackend } from '../../src/backend/vkbd-backend.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { InputRouter } from '../../src/input/router.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import { SimHost, type SimGuest } from '../../src/sim/host.js';
import { silentLogger } from '../../src/util/log.js';

type Input = Extract<FrontendReport, { kind: 'input' }>;
const KEY_A = 30;
const KEY_LEFTCTRL = 29;

async function world() {
  const host = await SimHost.start();
  const platform = await host.platform();
  const xs = await host.xenstore(0);
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({ backends: [headless], onDemand: headless });
  const log = silentLogger();
  const display = await DisplayBackend.start({ xs, platform, outputs, log });
  const router = new InputRouter();
  const vkbd = await VkbdBackend.start({ xs, platform, router, log, outputs });
  return {
    host,
    platform,
    router,
    vkbd,
    display,
    headless,
    guest: async (res: string): Promise<SimGuest> => {
      const g = await host.createDomain({
        vdispl: [`connectors=id0:${res}`],
        vkb: ['backend-type=linux,unique-id=id0'],
        frontend: { kind: 'display', maxFps: 30 },
        verbose: false,
      });
      await g.waitFor((r) => r.kind === 'kbd-connected', { timeoutMs: 15_000 });
      return g;
    },
    close: async () => {
      await vkbd.close();
      await display.close();
      await headless.close();
      await host.close();
    },
  };
}

const lastInput = (g: SimGuest): Input | undefined => g.reports.filter((r): r is Input => r.kind === 'input').at(-1);

void test('position scaled to the connector, keys, a focus switch that releases; destroy mid-flood leaves nothing', async () => {
  const w = await world();
  try {
    const a = await w.guest('640x480');
    const b = await w.guest('1280x720');
    const conn = a.reports.find((r) => r.kind === 'kbd-connected');
    assert.deepEqual(
      conn,
      { kind: 'kbd-connected', devid: 0, abs: true, width: 640, height: 480, multiTouch: true, uniqueId: 'id0' },
      'Linux read the connector geometry at probe',
    );

    w.router.focusOn(a.domid, 0);
    // A click at (200, 150) on a 400x300 view of the screen.
    w.router.deliver([
      { kind: 'abs', x: 200, y: 150, w: 400, h: 300 },
      { kind: 'key', code: KEY_LEFTCTRL, pressed: true },
      { kind: 'key', code: KEY_A, pressed: true },
    ]);
    const got = await a.waitFor((r): r is Input => r.kind === 'input' && r.down.includes(KEY_A));
    assert.deepEqual([got.x, got.y], [320, 240]);
    assert.deepEqual(
      [...lastInput(a)!.down].sort((p, q) => p - q),
      [KEY_LEFTCTRL, KEY_A],
    );

    w.router.focusOn(b.domid, 0);
    await a.waitFor((r) => r.kind === 'input' && r.down.length === 0, { timeoutMs: 5000 });
    w.router.deliver([
      { kind: 'key', code: KEY_A, pressed: false },
      { kind: 'abs', x: 399, y: 299, w: 400, h: 300 },
    ]);
    const bIn = await b.waitFor((r): r is Input => r.kind === 'input');
    assert.deepEqual(
      [bIn.x, bIn.y, bIn.down],
      [1276, 717, []],
      'scaled to guest 2s 1280x720; the release of guest 1s key is not delivered',
    );
    const aBefore = a.reports.filter((r) => r.kind === 'input').length;

    // A flood into guest 2 while guest 1 keeps flipping: guest 1's flip rate during the flood is held
    // against its own rate in an equal window just before (same run, same load), not a wall clock.
    const flips = (): number => w.display.status().find((d) => d.domid === a.domid)!.connectors[0]!.stats.flipsQueued;
    const quiet0 = flips();
    await new Promise((r) => setTimeout(r, 1300));
    const quiet = flips() - quiet0;
    const framesBefore = flips();
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 1000) {
      const batch = Array.from({ length: 200 }, (_, i) => ({
        kind: 'abs' as const,
        x: (sent + i) % 400,
        y: 10,
        w: 400,
        h: 300,
      }));
      w.router.deliver(batch);
      sent += 200;
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const during = flips() - framesBefore;
    assert.ok(
      quiet > 0 && during >= quiet / 2,
      `guest 1 kept flipping during the flood: ${during} flips against ${quiet} in the 1.3 s before`,
    );
    const ring = w.router.list().find((t) => t.domid === b.domid);
    assert.ok(ring, 'guest 2 still connected after the flood');
    assert.equal(a.reports.filter((r) => r.kind === 'input').length, aBefore, 'guest 1 received none of it');

    // Destroyed mid-input: the flood goes on until the device is gone, nothing is left behind.
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        w.router.deliver([
          { kind: 'key', code: KEY_A, pressed: true },
          { kind: 'key', code: KEY_A, pressed: false },
        ]);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await w.host.destroyDomain(b.domid);
    flooding = false;
    await flood;
    await w.host.destroyDomain(a.domid);
    await w.vkbd.settled();
    await w.display.settled();
    await w.platform.sync();
    assert.deepEqual(w.platform.resources(), {
      grantMappings: 0,
      mappedPages: 0,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      eventChannels: 0,
    });
    assert.equal(w.router.list().length, 0);
    assert.equal(w.router.focus, undefined);
    await w.host.hypervisor.waitNoZombies(2000);
    assert.deepEqual(w.host.zombies(), []);
    assert.ok(!a.reports.some((r) => r.kind === 'error' || r.kind === 'kbd-violation'), 'no errors in guest 1');
  } finally {
    await w.close();
  }
});
