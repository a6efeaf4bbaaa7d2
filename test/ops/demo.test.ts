// The operations side against a running `vdispld demo` (a separate process: simulated host, the
// daemon, two guest processes): `vdispld status` and `vdispld snapshot` over its control socket,
// its metrics scraped and parsed, and its viewer in headless Chromium showing the very frames the
// guests drew (each frame carries its number and domain in a pattern the test decodes).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import parse from 'parse-prometheus-text-format';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import { controlRequest } from '../../src/ops/control/control-client.js';
import type { StatusReport } from '../../src/ops/status/status-report.js';
import { decodeFrameRgba } from '../../src/sim/frontend/pattern.js';
import { browserMissing, launch } from './browser.js';
import { tempDir, waitFor } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

interface PageGlobals {
  vdispldViewer: { frames: Record<string, number> };
  document: {
    querySelector(sel: string): {
      width: number;
      height: number;
      getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
    } | null;
  };
}

void test('status, snapshot, metrics and the viewer against a running demo', { timeout: 240_000 }, async () => {
  const t = tempDir('demo');
  const sock = join(t.dir, 'control.sock');
  const demo: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/main.ts'),
      'demo',
      '--guests',
      '2',
      '--duration',
      '180',
      '--json',
      '--control-socket',
      sock,
      '--viewer',
      '127.0.0.1:0',
      '--metrics',
      '127.0.0.1:0',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  demo.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  demo.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
  let failure: unknown;
  try {
    // Up and drawing: both devices connected and every connector has shown frames.
    let status: StatusReport | undefined;
    await waitFor(() => existsSync(sock), `the demo's control socket (stderr: ${stderr})`, 60_000);
    const deadline = Date.now() + 60_000;
    for (;;) {
      // The socket's file appears at bind(), a moment before listen(): a refused connect is retried.
      const reply = await controlRequest(sock, { v: 1, cmd: 'status' }).catch((err: unknown) => {
        if (demo.exitCode !== null || demo.signalCode !== null) {
          throw new Error(
            `the demo ended (${demo.exitCode ?? demo.signalCode}) before answering: ${String(err)}; stderr: ${stderr.slice(-2000)}`,
          );
        }
        if (Date.now() >= deadline || !(err instanceof Error) || !/no vdispld is listening/.test(err.message))
          throw err;
        return undefined;
      });
      if (reply === undefined) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      status = reply.header['status'] as StatusReport;
      const conns = status.devices.flatMap((d) => d.connectors);
      // framesPerSecond needs two once-a-second samples of the connection: a fast host can show 30 flips before.
      if (
        status.devices.length === 2 &&
        status.devices.every((d) => d.state === 'connected') &&
        conns.length === 3 &&
        conns.every((c) => c.flips.shown > 30 && c.framesPerSecond !== null)
      )
        break;
      assert.ok(Date.now() < deadline, `guests did not connect and draw: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(
      status.devices.flatMap((d) => d.connectors.map((c) => [c.key, c.uniqueId, c.path, c.buffer])),
      [
        ['1/0/0', 'main', 'mapped', 'guest'],
        ['1/0/1', 'side', 'mapped', 'guest'],
        // dom0's pages, granted to the guest, read in place all the same: never a copy, never a dma-buf.
        ['2/0/0', 'main', 'mapped', 'be-alloc'],
      ],
    );
    assert.ok(status.devices[0]!.connectors[0]!.framesPerSecond! > 10, 'frames/s sampled');
    assert.ok(status.devices[0]!.connectors[0]!.flipLatencyMs.mean! > 0);
    assert.deepEqual(status.framebuffersByPath, { 'dma-buf': 0, copied: 0, mapped: 3 });
    assert.deepEqual(status.beAllocFramebuffersByPath, { 'dma-buf': 0, copied: 0, mapped: 1 });
    assert.equal(status.config?.['control-socket']?.origin, 'cli');

    // The commands, as an operator runs them.
    const st = await run(['status', '--socket', sock]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout.toString(), /dom2 device 0: connected/);
    assert.match(st.stdout.toString(), /2\/0\/0\s+main\s+dom2\.0\.main\s+640x360\s+mapped\s+be-alloc\s/);
    assert.match(st.stdout.toString(), /framebuffers \(dma-buf 0, copied 0, mapped 3; 1 of them be-alloc\)/);
    assert.doesNotMatch(st.stdout.toString(), /zero-copy/, 'nothing on a headless host is called zero-copy');
    const png = join(t.dir, 'main.png');
    const sn = await run(['snapshot', '1/0/main', '-o', png, '--socket', sock, '--json']);
    assert.equal(sn.code, 0, sn.stderr);
    const img = decodePng(readFileSync(png));
    assert.deepEqual([img.width, img.height], [640, 480]);
    const decoded = decodeFrameRgba(img.rgba, img.width, img.height);
    assert.ok(decoded, 'the snapshot carries a guest frame');
    assert.equal(decoded.domid, 1);
    assert.equal(decoded.connector, 0);
    assert.ok(decoded.barsOk, 'colour bars intact');

    // Metrics, as Prometheus would scrape them.
    const metricsUrl = status.listeners!.metrics!;
    const fams = parse(await (await fetch(metricsUrl)).text());
    const sample = (name: string, labels: Record<string, string> = {}): number =>
      Number(
        fams
          .find((f) => f.name === name)
          ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? NaN,
      );
    assert.ok(sample('vdispld_requests_total', { op: 'PG_FLIP', result: 'ok' }) > 30);
    assert.ok(sample('vdispld_requests_total', { op: 'DBUF_CREATE', result: 'ok' }) >= 3);
    assert.ok(sample('vdispld_frames_shown_total', { domid: '2', dev: '0', connector: '0' }) > 30);
    assert.equal(sample('vdispld_guest_devices', { state: 'connected' }), 2);
    assert.ok(sample('vdispld_grant_mappings') > 0);
    const hist = fams.find((f) => f.name === 'vdispld_flip_latency_seconds')!.metrics[0]!;
    assert.ok(Number(hist.count) > 30);

    // The viewer: every connector's canvas shows a frame the guest drew.
    const why = browserMissing();
    if (why === undefined) {
      const browser = await launch();
      try {
        const page = await browser.newPage();
        await page.goto(status.listeners!.viewer!);
        for (const key of ['1/0/0', '1/0/1', '2/0/0']) {
          await page.waitForFunction(
            (k) => (globalThis as unknown as PageGlobals).vdispldViewer.frames[k] !== undefined,
            key,
            { timeout: 90_000 },
          );
          const shot = await page.evaluate((k) => {
            const c = (globalThis as unknown as PageGlobals).document.querySelector(`canvas[data-key="${k}"]`)!;
            return {
              w: c.width,
              h: c.height,
              data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data),
            };
          }, key);
          const f = decodeFrameRgba(Uint8Array.from(shot.data), shot.w, shot.h);
          assert.ok(f, `canvas ${key} shows a guest frame`);
          assert.equal(f.domid, Number(key[0]), key);
          assert.equal(f.connector, Number(key.at(-1)), key);
          assert.ok(f.barsOk, key);
        }
        // It follows the guest: a later frame number arrives.
        const first = await page.evaluate(() => (globalThis as unknown as PageGlobals).vdispldViewer.frames['1/0/0']!);
        await page.waitForFunction(
          (s) => (globalThis as unknown as PageGlobals).vdispldViewer.frames['1/0/0']! > s,
          first,
          { timeout: 90_000 },
        );
      } finally {
        await browser.close();
      }
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    demo.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') demo.kill('SIGKILL');
    const sockLeft = existsSync(sock);
    t.remove();
    // A failure above is the news; the exit checks would only hide it.
    if (failure === undefined) {
      assert.equal(code, 0, `demo exit (stderr: ${stderr.slice(-2000)})`);
      const report = JSON.parse(stdout) as { ok: boolean };
      assert.equal(report.ok, true);
      assert.equal(sockLeft, false, 'control socket removed');
    }
  }
});
