// The viewer's input in headless Chromium against the daemon on a simulated host: a click on a
// guest's canvas reaches that guest's vkbd at the position scaled from the canvas's displayed size to
// the connector, keys arrive and are released, the guest draws the pointer where it received it,
// and without --viewer-input the page sends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon } from '../../src/daemon.js';
import { daemonProbe } from '../../src/ops/daemon-probe.js';
import { OpsServices } from '../../src/ops/ops-services.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import { SimHost } from '../../src/sim/host.js';
import { silentLogger } from '../../src/util/log.js';
import { browserMissing, launch } from '../ops/browser.js';

type Input = Extract<FrontendReport, { kind: 'input' }>;
const skip = browserMissing() ?? false;

interface PageGlobals {
  vdispldViewer: { frames: Record<string, number>; input: boolean };
  document: {
    querySelector(
      sel: string,
    ): { getBoundingClientRect(): { x: number; y: number; width: number; height: number } } | null;
  };
}

async function rig(viewerInput: boolean) {
  const host = await SimHost.start();
  const log = silentLogger();
  const daemon = await Daemon.start(
    { platform: 'sim', simDir: host.dir, xenstore: host.xenstoredPath, output: 'headless' },
    log,
  );
  const ops = await OpsServices.start({
    probe: daemonProbe(daemon),
    log,
    version: 't',
    controlSocket: undefined,
    metrics: 'off',
    viewer: { host: '127.0.0.1', port: 0 },
    viewerInput,
  });
  const g = await host.createDomain({
    vdispl: ['connectors=id0:640x480'],
    vkb: ['backend-type=linux,unique-id=id0'],
    frontend: { kind: 'display', maxFps: 20 },
    verbose: false,
  });
  await g.waitFor((r) => r.kind === 'kbd-connected', { timeoutMs: 20_000 });
  return {
    host,
    daemon,
    g,
    base: `http://127.0.0.1:${ops.viewerAddress!.port}`,
    close: async () => {
      await ops.close();
      await daemon.stop();
      await host.close();
    },
  };
}

void test(
  'a click on the canvas arrives in the guest at the scaled position; keys too; the guest draws the pointer',
  { skip, timeout: 120_000 },
  async () => {
    const r = await rig(true);
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      await page.goto(`${r.base}/`);
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).vdispldViewer.frames['1/0/0'] !== undefined,
        undefined,
        { timeout: 30_000 },
      );
      assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).vdispldViewer.input), true);
      const box = await page.evaluate(() => {
        const b = (globalThis as unknown as PageGlobals).document
          .querySelector('canvas[data-key="1/0/0"]')!
          .getBoundingClientRect();
        return { x: b.x, y: b.y, width: b.width, height: b.height };
      });
      // max-width 45vw: the 640x480 screen is shown at 450x337.5 CSS pixels, so scaling is exercised.
      assert.ok(box.width < 640, `canvas shown scaled (${box.width} px wide)`);
      const cx = 150;
      const cy = 100;
      await page.mouse.click(box.x + cx, box.y + cy);
      const want = { x: Math.floor((cx * 640) / box.width), y: Math.floor((cy * 480) / box.height) };
      const got = await r.g.waitFor(
        (m): m is Input =>
          m.kind === 'input' && m.events.some((e) => e.kind === 'key' && e.keycode === 0x110 && !e.pressed),
        { timeoutMs: 20_000 },
      );
      assert.deepEqual({ x: got.x, y: got.y }, want, 'BTN_LEFT released at the scaled position');
      assert.ok(
        r.g.reports.some(
          (m) => m.kind === 'input' && m.events.some((e) => e.kind === 'key' && e.keycode === 0x110 && e.pressed),
        ),
        'BTN_LEFT pressed',
      );

      await page.keyboard.down('KeyA');
      await r.g.waitFor((m) => m.kind === 'input' && m.down.includes(30), { timeoutMs: 20_000 });
      await page.keyboard.up('KeyA');
      await r.g.waitFor(
        (m) => m.kind === 'input' && m.events.some((e) => e.kind === 'key' && e.keycode === 30 && !e.pressed),
        { timeoutMs: 20_000 },
      );

      // The guest drew its pointer there: white at the centre, black beside the arm.
      const out = r.daemon.headless.outputs()[0]!;
      const pixel = async (): Promise<number[]> => {
        const f = out.currentFrame()!;
        const o = (want.y * f.width + want.x) * 4;
        return [...f.rgba.subarray(o, o + 3)];
      };
      const until = Date.now() + 10_000;
      while ((await pixel()).join() !== '255,255,255' && Date.now() < until)
        await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(await pixel(), [255, 255, 255], 'the cross is drawn at the received position');
    } finally {
      await browser.close();
      await r.close();
    }
  },
);

void test('without --viewer-input the page sends nothing', { skip, timeout: 120_000 }, async () => {
  const r = await rig(false);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${r.base}/`);
    await page.waitForFunction(
      () => (globalThis as unknown as PageGlobals).vdispldViewer.frames['1/0/0'] !== undefined,
      undefined,
      { timeout: 30_000 },
    );
    const box = await page.evaluate(() => {
      const b = (globalThis as unknown as PageGlobals).document
        .querySelector('canvas[data-key="1/0/0"]')!
        .getBoundingClientRect();
      return { x: b.x, y: b.y };
    });
    await page.mouse.click(box.x + 10, box.y + 10);
    await page.keyboard.press('KeyA');
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(r.g.reports.filter((m) => m.kind === 'input').length, 0);
    assert.equal(r.daemon.input.stats.delivered, 0);
  } finally {
    await browser.close();
    await r.close();
  }
});
