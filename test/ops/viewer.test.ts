// The live viewer in headless Chromium: the page's canvases show the frames the guests drew, and
// follow when they draw again; plus the WebSocket's throttling and the Host/Origin checks.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import WebSocket from 'ws';
import { OpsServices } from '../../src/ops/ops-services.js';
import { decodeFrameMessage } from '../../src/ops/viewer/frame-message.js';
import { hostAllowed, originAllowed } from '../../src/ops/viewer/access.js';
import { browserMissing, launch } from './browser.js';
import { FakeDaemon } from './fake-daemon.js';
import { assertNoNewHandles, captureLogger, openHandles, waitFor } from './helpers.js';

void test('access: loopback listener answers loopback Host names only; WebSockets only from its own page', () => {
  const bound = { host: '127.0.0.1', port: 8080 };
  assert.ok(hostAllowed('127.0.0.1:8080', bound));
  assert.ok(hostAllowed('localhost:8080', bound));
  assert.ok(hostAllowed('[::1]:8080', bound));
  assert.ok(!hostAllowed('evil.example:8080', bound), 'DNS rebinding');
  assert.ok(!hostAllowed('127.0.0.1:9999', bound));
  assert.ok(!hostAllowed(undefined, bound));
  assert.ok(hostAllowed('display-host:8080', { host: '0.0.0.0', port: 8080 }));
  assert.ok(originAllowed(undefined, 'localhost:8080'));
  assert.ok(originAllowed('http://localhost:8080', 'localhost:8080'));
  assert.ok(!originAllowed('https://evil.example', 'localhost:8080'));
  assert.ok(!originAllowed('null', 'localhost:8080'));
});

async function withViewer(fn: (ops: OpsServices, fake: FakeDaemon, base: string) => Promise<void>): Promise<void> {
  const before = openHandles();
  const fake = new FakeDaemon();
  const ops = await OpsServices.start({
    probe: fake,
    log: captureLogger().log,
    version: 't',
    controlSocket: undefined,
    metrics: 'off',
    viewer: { host: '127.0.0.1', port: 0 },
    sampleMs: 50,
  });
  try {
    await fn(ops, fake, `http://127.0.0.1:${ops.viewerAddress!.port}`);
  } finally {
    await ops.close();
    await ops.close();
    await fake.close();
  }
  await assertNoNewHandles(before, 'the viewer');
}

void test('WebSocket: frames only when the output shows a new one, one unacknowledged frame per connector, foreign origins refused', async () => {
  await withViewer(async (ops, fake, base) => {
    const [screen] = await fake.addDevice(2, 0, [[40, 30]]);
    await screen!.draw(() => [1, 2, 3]);
    const url = base.replace('http', 'ws') + '/ws';

    const foreign = new WebSocket(url, { origin: 'https://evil.example' });
    const refused = await new Promise<string>((resolve) => {
      foreign.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      foreign.on('error', (e) => resolve(e.message));
    });
    assert.equal(refused, '403');
    // fetch() will not send a foreign Host; a rebound DNS name in a browser would.
    const wrongHost = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${base}/`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(wrongHost, 421);

    // A client that never acknowledges gets exactly one frame however often the guest flips.
    const lazy = new WebSocket(url);
    const lazyFrames: number[] = [];
    lazy.on('message', (d, bin) => bin && lazyFrames.push(decodeFrameMessage(d as Buffer).header.sequence));
    await waitFor(() => lazyFrames.length === 1, 'the first frame');
    for (let i = 0; i < 5; i++) await screen!.draw(() => [i, i, i]);
    // An eager client acknowledges every frame: it never gets more frames than the guest showed.
    const eager = new WebSocket(url);
    const eagerSeqs: number[] = [];
    eager.on('message', (d, bin) => {
      if (!bin) return;
      const m = decodeFrameMessage(d as Buffer);
      eagerSeqs.push(m.header.sequence);
      eager.send(JSON.stringify({ type: 'ack', key: m.header.key }));
    });
    await waitFor(() => eagerSeqs.length >= 1, 'the eager client’s first frame');
    const flipsBefore = screen!.stats.flipsShown;
    for (let i = 0; i < 6; i++) {
      await screen!.draw(() => [i * 10, 0, 0]);
      await new Promise((r) => setTimeout(r, 40));
    }
    const last = screen!.output.currentFrame()!.sequence;
    await waitFor(() => eagerSeqs.at(-1) === last, 'the eager client to reach the last frame');
    assert.equal(new Set(eagerSeqs).size, eagerSeqs.length, 'no frame sent twice');
    assert.ok(
      eagerSeqs.length <= 1 + (screen!.stats.flipsShown - flipsBefore),
      `${eagerSeqs.length} frames for ${screen!.stats.flipsShown - flipsBefore} flips`,
    );
    assert.equal(lazyFrames.length, 1, 'the client that did not acknowledge got nothing more');
    assert.equal(ops.viewerAddress!.host, '127.0.0.1');
    lazy.close();
    eager.close();
  });
});

const skip = browserMissing();

// Just enough of the DOM's types for the page-side callbacks (the project compiles without lib.dom).
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
interface PageGlobals {
  vdispldViewer: { frames: Record<string, number> };
  document: { querySelector(sel: string): (PageCanvas & { textContent: string | null }) | null };
}

void test(
  'in headless Chromium: every connector’s canvas shows the frame the guest drew, and follows it',
  { skip, timeout: 90_000 },
  async () => {
    await withViewer(async (_ops, fake, base) => {
      const [a, b] = await fake.addDevice(5, 0, [
        [160, 100],
        [80, 60],
      ]);
      await a!.draw((x, y) => [x, y * 2, 100]);
      await b!.draw((x, y) => (x < 40 ? [255, 0, 0] : y < 30 ? [0, 255, 0] : [0, 0, 255]));
      const browser = await launch();
      try {
        const page = await browser.newPage();
        await page.goto(`${base}/`);
        const seqA = a!.output.currentFrame()!.sequence;
        await page.waitForFunction(
          (s) => (globalThis as unknown as PageGlobals).vdispldViewer.frames['5/0/0'] === s,
          seqA,
          { timeout: 20_000 },
        );
        await page.waitForFunction(
          () => (globalThis as unknown as PageGlobals).vdispldViewer.frames['5/0/1'] !== undefined,
          undefined,
          { timeout: 20_000 },
        );
        const pixel = (key: string, x: number, y: number): Promise<number[]> =>
          page.evaluate(
            ([k, px, py]) => {
              const c = (globalThis as unknown as PageGlobals).document.querySelector(`canvas[data-key="${k}"]`)!;
              return Array.from(c.getContext('2d').getImageData(px, py, 1, 1).data);
            },
            [key, x, y] as const,
          );
        assert.deepEqual(await pixel('5/0/0', 0, 0), [0, 0, 100, 255]);
        assert.deepEqual(await pixel('5/0/0', 150, 90), [150, 180, 100, 255]);
        assert.deepEqual(await pixel('5/0/1', 10, 50), [255, 0, 0, 255]);
        assert.deepEqual(await pixel('5/0/1', 60, 10), [0, 255, 0, 255]);
        assert.deepEqual(await pixel('5/0/1', 60, 50), [0, 0, 255, 255]);
        const size = await page.evaluate(() => {
          const c = (globalThis as unknown as PageGlobals).document.querySelector('canvas[data-key="5/0/0"]')!;
          return [c.width, c.height];
        });
        assert.deepEqual(size, [160, 100]);
        const caption = await page.evaluate(
          () => (globalThis as unknown as PageGlobals).document.querySelector('figure figcaption')!.textContent,
        );
        assert.match(caption ?? '', /5\/0\/0 {2}"id0" on "dom5\.0\.id0"\nconnected 160x100/);

        // The guest draws again: the canvas follows.
        await a!.draw(() => [7, 77, 177]);
        const seqA2 = a!.output.currentFrame()!.sequence;
        await page.waitForFunction(
          (s) => (globalThis as unknown as PageGlobals).vdispldViewer.frames['5/0/0'] === s,
          seqA2,
          { timeout: 20_000 },
        );
        assert.deepEqual(await pixel('5/0/0', 80, 50), [7, 77, 177, 255]);
        await page.screenshot({ path: process.env['VDISPLD_VIEWER_SCREENSHOT'] ?? '/dev/null' }).catch(() => undefined);
      } finally {
        await browser.close();
      }
    });
  },
);
