// The Wayland output's decisions against a stand-in connection: what it asks of the compositor and
// when it answers the guest, for the cases no compositor on this machine offers. Debian's Weston
// offers no zwp_linux_dmabuf_v1 with its pixman or software-GL renderer, and this machine has no
// dma-buf exporter, so the dma-buf path (export, zwp_linux_buffer_params_v1, commit of the guest's
// own buffer, release) and the frame-callback fallback are proven here, at the seam to the Wayland
// module; test/wayland/dmabuf.test.ts proves the refusal and its reason against the real Weston.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync } from 'node:fs';
import { fourcc } from '../../src/displif/formats.js';
import type { FlipResult, FramebufferDesc, OutputConfig } from '../../src/drm/output.js';
import { FallbackStats } from '../../src/drm/kms/fallbacks.js';
import type { WaylandConnection, WindowEvent } from '../../src/drm/wayland/wayland-connection.js';
import { StandIn } from './helpers/stand-in.js';
import {
  HIDDEN_AFTER_MAX_MS,
  HIDDEN_AFTER_MS,
  HIDDEN_CYCLES,
  HIDDEN_FLIP_HZ,
  WaylandOutput,
  type HiddenChange,
} from '../../src/drm/wayland/wayland-output.js';
import { DMABUF_REASONS, MOD_INVALID, MOD_LINEAR } from '../../src/drm/wayland/window-dmabufs.js';
import { PlatformError } from '../../src/xen/platform.js';
import { domId } from '../../src/util/ids.js';

const XR24 = fourcc('XR24');
const W = 64;
const H = 48;
const MODE = { width: W, height: H, refreshMilliHz: 60000, preferred: true };

interface Export {
  fd: number;
  closed: boolean;
}

/** A guest framebuffer whose pages export as `exported` says (an fd of /dev/null stands for the dma-buf). */
function framebuffer(
  id: number,
  opts: { fourcc?: number; export?: 'ok' | 'enotty' | 'none'; exportSize?: number; exports?: Export[] } = {},
): FramebufferDesc {
  const bytes = new Uint8Array(W * H * 4).fill(0x40 + id);
  const how = opts.export ?? 'ok';
  return {
    id,
    width: W,
    height: H,
    fourcc: opts.fourcc ?? XR24,
    pitch: W * 4,
    offset: 0,
    buffer: {
      domid: domId(3),
      size: bytes.length,
      bytes,
      ...(how === 'none'
        ? {}
        : {
            exportDmaBuf: () => {
              if (how === 'enotty') return Promise.reject(new PlatformError('no gntdev dma-buf', 25, 'ENOTTY'));
              const ex: Export = { fd: openSync('/dev/null', 'r'), closed: false };
              opts.exports?.push(ex);
              return Promise.resolve({
                fd: ex.fd,
                size: opts.exportSize ?? bytes.length,
                close: () => {
                  if (!ex.closed) closeSync(ex.fd);
                  ex.closed = true;
                  return Promise.resolve();
                },
              });
            },
          }),
    },
  };
}

const whole = (fb: FramebufferDesc): OutputConfig => ({ x: 0, y: 0, width: W, height: H, fb });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function output(conn: StandIn, zeroCopy = true): { out: WaylandOutput; reasons: string[]; stats: FallbackStats } {
  const reasons: string[] = [];
  const stats = new FallbackStats((r) => reasons.push(r));
  const out = new WaylandOutput(
    'wl-test',
    MODE,
    { title: 't', appId: 'vdispld' },
    {
      fallbacks: stats,
      zeroCopy: () => zeroCopy,
    },
  );
  out.attach(conn as unknown as WaylandConnection);
  return { out, reasons, stats };
}

void test('dma-buf path: the guest buffer is exported once, handed over linear, committed as it is; nothing copied', async () => {
  const conn = new StandIn([
    [XR24, MOD_INVALID],
    [XR24, MOD_LINEAR],
  ]);
  const { out, stats } = output(conn);
  const exports: Export[] = [];
  const fb1 = framebuffer(1, { exports });
  const fb2 = framebuffer(2, { exports });
  await out.setConfig(whole(fb1));
  conn.send({ type: 'configure', value: 0 });
  await turn();
  // The first picture waits for the compositor's answer to its buffer: nothing committed yet.
  assert.deepEqual(conn.commits, []);
  assert.equal(conn.asked.size, 1);
  assert.deepEqual(conn.asked.get(2), {
    fd: exports[0]!.fd,
    width: W,
    height: H,
    fourcc: XR24,
    offset: 0,
    stride: W * 4,
    modifier: MOD_LINEAR,
  });
  conn.send({ type: 'dmabuf-created', value: 2 });
  assert.deepEqual(conn.commits, [2], 'the guest buffer itself committed');
  assert.deepEqual(out.pathOf(fb1), { path: 'dma-buf' });

  const results: FlipResult[] = [];
  out.flip(fb2, (r) => results.push(r));
  await turn();
  conn.send({ type: 'dmabuf-created', value: 3 });
  assert.deepEqual(conn.commits, [2], 'the next commit waits for the frame callback');
  conn.send({ type: 'frame', value: 0 });
  assert.deepEqual(conn.commits, [2, 3]);
  conn.send({ type: 'presented', value: 0, timeNs: 5n } as Omit<WindowEvent, 'window'>); // the modeset's picture
  assert.deepEqual(results, []);
  conn.send({ type: 'frame', value: 0 });
  assert.deepEqual(results, [], 'answered by presentation, not by the frame callback');
  conn.send({ type: 'presented', value: 16_666_666, timeNs: 123_456_789n } as Omit<WindowEvent, 'window'>);
  assert.deepEqual(results, [{ shown: true, timestampNs: 123_456_789n }], 'the presented time (CLOCK_MONOTONIC)');
  // Flipping back to fb1 uses its buffer again: no second export.
  out.flip(fb1, () => {});
  assert.deepEqual(conn.commits, [2, 3, 2]);
  assert.equal(exports.length, 2);
  assert.equal(out.stats.bytesCopied, 0, 'no byte copied on the dma-buf path');
  assert.equal(out.stats.dmabufCommits, 3);
  assert.deepEqual(stats.byReason(), {});
  // FB_DETACH: its buffer destroyed and its export closed; the other stays.
  out.release(fb2);
  assert.deepEqual(conn.destroyed, [3]);
  assert.deepEqual(
    exports.map((e) => e.closed),
    [false, true],
  );
  out.close();
  assert.deepEqual(conn.destroyed, [3, 2]);
  assert.ok(exports.every((e) => e.closed));
});

void test('dma-buf refusals: each sends the framebuffer to wl_shm with its reason, counted once per framebuffer', async () => {
  const cases: {
    name: string;
    formats: [number, bigint][] | null;
    fb: (exports: Export[]) => FramebufferDesc;
    zeroCopy?: boolean;
    reason: string;
    exported: number;
  }[] = [
    {
      name: 'no linux-dmabuf',
      formats: null,
      fb: (e) => framebuffer(1, { exports: e }),
      reason: DMABUF_REASONS.noGlobal,
      exported: 0,
    },
    {
      name: 'format not listed',
      formats: [[fourcc('AR24'), MOD_LINEAR]],
      fb: (e) => framebuffer(1, { exports: e }),
      reason: 'the compositor takes no linear XR24 dma-buf',
      exported: 0,
    },
    {
      name: 'only a tiled modifier',
      formats: [[XR24, 0x0100000000000001n]],
      fb: (e) => framebuffer(1, { exports: e }),
      reason: 'the compositor takes no linear XR24 dma-buf',
      exported: 0,
    },
    {
      name: 'zero-copy off',
      formats: [[XR24, MOD_LINEAR]],
      zeroCopy: false,
      fb: (e) => framebuffer(1, { exports: e }),
      reason: 'disabled by configuration',
      exported: 0,
    },
    {
      name: 'no exporter',
      formats: [[XR24, MOD_LINEAR]],
      fb: () => framebuffer(1, { export: 'none' }),
      reason: DMABUF_REASONS.noExport,
      exported: 0,
    },
    {
      name: 'export refused',
      formats: [[XR24, MOD_LINEAR]],
      fb: () => framebuffer(1, { export: 'enotty' }),
      reason: 'dma-buf export refused (ENOTTY)',
      exported: 0,
    },
    {
      name: 'rows past the dma-buf',
      formats: [[XR24, MOD_LINEAR]],
      fb: (e) => framebuffer(1, { exports: e, exportSize: W * 4 * (H - 1) }),
      reason: DMABUF_REASONS.tooShort,
      exported: 1,
    },
    {
      name: 'compositor refuses',
      formats: [[XR24, MOD_LINEAR]],
      fb: (e) => framebuffer(1, { exports: e }),
      reason: DMABUF_REASONS.refused,
      exported: 1,
    },
  ];
  for (const c of cases) {
    const conn = new StandIn(c.formats);
    const { out, reasons, stats } = output(conn, c.zeroCopy ?? true);
    const exports: Export[] = [];
    const fb = c.fb(exports);
    await out.setConfig(whole(fb));
    conn.send({ type: 'configure', value: 0 });
    await turn();
    if (c.reason === DMABUF_REASONS.refused) {
      assert.equal(conn.asked.size, 1, c.name);
      conn.send({ type: 'dmabuf-failed', value: 2 });
    } else {
      assert.equal(conn.asked.size, 0, `${c.name}: nothing asked of the compositor`);
    }
    assert.deepEqual(conn.commits, [0], `${c.name}: the shm copy committed`);
    assert.ok(out.stats.bytesCopied >= W * H * 4, c.name);
    assert.deepEqual(out.pathOf(fb), { path: 'copied', reason: c.reason }, c.name);
    // More flips of the same framebuffer: still one count, one log line.
    for (let i = 0; i < 3; i++) {
      out.flip(fb, () => {});
      conn.send({ type: 'frame', value: 0 });
      conn.send({ type: 'release', value: i % 2 });
    }
    assert.deepEqual(stats.byReason(), { [c.reason]: 1 }, c.name);
    assert.deepEqual(reasons, [c.reason], c.name);
    assert.equal(exports.length, c.exported, c.name);
    assert.ok(
      exports.every((e) => e.closed),
      `${c.name}: a refused export is closed at once`,
    );
    out.close();
  }
});

void test('without wp_presentation the frame callback answers the flip', async () => {
  const conn = new StandIn(null, -1);
  const { out } = output(conn);
  const fb = framebuffer(1);
  await out.setConfig(whole(fb));
  conn.send({ type: 'configure', value: 0 });
  assert.equal(out.stats.pacing, 'frame-callback');
  const results: FlipResult[] = [];
  out.flip(fb, (r) => results.push(r));
  assert.deepEqual(conn.commits, [0], 'waits behind the modeset picture');
  conn.send({ type: 'frame', value: 0 });
  assert.deepEqual(conn.commits, [0, 1]);
  assert.equal(results.length, 0);
  conn.send({ type: 'frame', value: 0 });
  assert.deepEqual(
    results.map((r) => r.shown),
    [true],
  );
  out.close();
});

void test(`a window the compositor stops drawing: flips answered at ${HIDDEN_FLIP_HZ} Hz without copying, the newest shown when it draws again`, async () => {
  const conn = new StandIn(null, 1);
  const { out } = output(conn);
  const fb1 = framebuffer(1);
  const fb2 = framebuffer(2);
  await out.setConfig(whole(fb1));
  conn.send({ type: 'configure', value: 0 });
  conn.send({ type: 'frame', value: 0 });
  conn.send({ type: 'presented', value: 0, timeNs: 1n } as Omit<WindowEvent, 'window'>);
  // A guest like the Linux frontend: the next flip once the last is answered.
  const answers: { at: number; r: FlipResult }[] = [];
  const t0 = performance.now();
  let stop = false;
  const flipNext = (i: number): void => {
    if (stop) return;
    out.flip(i % 2 ? fb2 : fb1, (r) => {
      answers.push({ at: performance.now() - t0, r });
      flipNext(i + 1);
    });
  };
  flipNext(1);
  assert.equal(conn.commits.length, 2, 'the first flip committed; then the compositor goes quiet');
  const copied = out.stats.bytesCopied;
  await new Promise((r) => setTimeout(r, HIDDEN_AFTER_MS + 1000));
  stop = true;
  assert.ok(out.stats.hidden);
  assert.equal(conn.commits.length, 2, 'nothing committed while hidden');
  assert.equal(out.stats.bytesCopied, copied, 'nothing copied while hidden');
  assert.ok(
    answers.every((a) => !a.r.shown && a.r.reason === 'the compositor is not drawing the window (hidden)'),
    JSON.stringify(answers),
  );
  // The first answer after the stall, then one per hidden period: never faster, never left to the
  // backend's 1 s deadline.
  assert.ok(answers[0]!.at >= HIDDEN_AFTER_MS - 5, `first answer at ${answers[0]!.at.toFixed(0)} ms`);
  const gaps = answers.slice(1).map((a, i) => a.at - answers[i]!.at);
  assert.ok(gaps.length >= 4, `${gaps.length + 1} answers in ${HIDDEN_AFTER_MS + 1000} ms`);
  assert.ok(
    gaps.every((g) => g >= 1000 / HIDDEN_FLIP_HZ - 5 && g < 1000),
    `gaps ${gaps.map((g) => g.toFixed(0)).join(',')}`,
  );
  // Drawn again: the newest flip goes up at once, and pacing is the compositor's again.
  const waiting = answers.length;
  conn.send({ type: 'release', value: 0 });
  conn.send({ type: 'frame', value: 0 });
  assert.equal(conn.commits.length, 3, 'the newest flip committed when the window is drawn again');
  assert.equal(out.stats.hidden, false);
  assert.equal(answers.length, waiting, 'its answer comes from the compositor now');
  out.close();
});

void test(`a slow compositor is not a hidden window: a late frame is waited for up to ${HIDDEN_CYCLES} of its cycles (at most ${HIDDEN_AFTER_MAX_MS} ms)`, async () => {
  const conn = new StandIn(null, -1);
  const changes: HiddenChange[] = [];
  const out = new WaylandOutput(
    'wl-slow',
    MODE,
    { title: 't', appId: 'vdispld' },
    { onHiddenChange: (_o, c) => changes.push(c) },
  );
  out.attach(conn as unknown as WaylandConnection);
  const fb1 = framebuffer(1);
  const fb2 = framebuffer(2);
  await out.setConfig(whole(fb1));
  // The compositor draws each commit CYCLE ms after it (the buffer before it released, then the
  // frame callback), except those a test holds back longer.
  const CYCLE = 200;
  const draw = (after: number): Promise<void> =>
    new Promise((r) =>
      setTimeout(() => {
        const n = conn.commits.length;
        if (n >= 2) conn.send({ type: 'release', value: conn.commits[n - 2]! });
        conn.send({ type: 'frame', value: 0 });
        r();
      }, after),
    );
  conn.send({ type: 'configure', value: 0 });
  assert.equal(conn.commits.length, 1, 'the first picture');
  const results: FlipResult[] = [];
  let stop = false;
  const flipNext = (i: number): void => {
    if (stop) return;
    out.flip(i % 2 ? fb2 : fb1, (r) => {
      results.push(r);
      flipNext(i + 1);
    });
  };
  flipNext(1);
  for (let i = 0; i < 5; i++) await draw(CYCLE);
  assert.ok(out.stats.frameCycleMs >= CYCLE - 5, `cycle ${out.stats.frameCycleMs} ms`);
  // Four cycles of 200 ms are over the cap: the wait is the cap.
  assert.equal(out.stats.hiddenAfterMs, HIDDEN_AFTER_MAX_MS);
  // A frame late by more than HIDDEN_AFTER_MS (what a fast compositor is allowed) but less than the
  // cap: the window is still drawn, nothing dropped.
  const held = HIDDEN_AFTER_MS + 100;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, held));
  const waited = performance.now() - t0;
  assert.equal(out.stats.hidden, false, `hidden after ${waited.toFixed(0)} ms`);
  await draw(0);
  await draw(CYCLE);
  assert.equal(out.stats.hiddenSpells, 0);
  assert.ok(results.length >= 6 && results.every((r) => r.shown), JSON.stringify(results.map((r) => r.shown)));
  // Held past the cap: hidden, told once each way, the flips dropped meanwhile counted.
  await new Promise((r) => setTimeout(r, HIDDEN_AFTER_MAX_MS + 250));
  assert.equal(out.stats.hidden, true);
  assert.equal(out.stats.hiddenSpells, 1);
  await draw(0);
  stop = true;
  assert.equal(out.stats.hidden, false);
  assert.equal(changes.length, 2, JSON.stringify(changes));
  const [went, back] = changes;
  assert.ok(went?.hidden && went.unansweredMs >= HIDDEN_AFTER_MAX_MS - 5, JSON.stringify(went));
  const dropped = results.filter((r) => !r.shown).length;
  assert.ok(back && !back.hidden && back.dropped === dropped && dropped >= 2, `${JSON.stringify(back)}; ${dropped}`);
  out.close();
});
