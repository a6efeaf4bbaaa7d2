// The Wayland output against a real compositor (Weston, headless, pixman): what each guest drew
// is what the compositor shows, pixel for pixel, read back with weston-screenshooter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitConnected, troubles } from '../backend/helpers/sim-world.js';
import { westonAvailable } from './helpers/weston.js';
import { expected, onScreen, openFds, script, wayland, waylandWorld } from './helpers/wayland-world.js';
import type { WaylandOutput } from '../../src/drm/wayland/wayland-output.js';
import { DMABUF_REASONS } from '../../src/drm/wayland/window-dmabufs.js';

const skip = westonAvailable()
  ? false
  : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';

void test(
  'each guest window shows exactly what its guest drew (XRGB8888 copied, RGB565 converted), titled by guest and connector',
  { skip },
  async () => {
    const fds = openFds();
    const w = await waylandWorld({ width: 1024, height: 768 });
    try {
      // desktop-shell places windows at random and raises the newest: each is checked while on top.
      const a = await w.host.createDomain({
        vdispl: ['connectors=main:320x240'],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      await waitConnected(a);
      const ra = await a.run(script(0, 320, 240, 'XRGB8888', 30), { timeoutMs: 60_000 });
      assert.deepEqual(
        ra.filter((r) => r.status !== 0 || (r.op === 'flip' && r.flip !== 'event')),
        [],
      );
      await onScreen(w, expected(320, 240, 'XRGB8888', 30, a.domid, 0), "guest A's window showing its frame 30");

      const b = await w.host.createDomain({
        vdispl: ['connectors=side:240x136'],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      await waitConnected(b);
      const rb = await b.run(script(0, 240, 136, 'RGB565', 30), { timeoutMs: 60_000 });
      assert.deepEqual(
        rb.filter((r) => r.status !== 0 || (r.op === 'flip' && r.flip !== 'event')),
        [],
      );
      await onScreen(w, expected(240, 136, 'RGB565', 30, b.domid, 0), "guest B's window showing its frame 30");
      assert.deepEqual(troubles(a), []);
      assert.deepEqual(troubles(b), []);

      const titles = w.wayland
        .outputs()
        .map((o) => (o as WaylandOutput).title)
        .sort();
      const nameOf = async (domid: number): Promise<string> =>
        (await w.host.xenstore(0)).read(`/local/domain/${domid}/name`);
      assert.deepEqual(titles, [`${await nameOf(a.domid)} main`, `${await nameOf(b.domid)} side`].sort());
      assert.deepEqual(wayland(), { connections: 1, windows: 2, shmPools: 2, dmabufBuffers: 0, xdgOutputs: 1 });

      await w.host.destroyDomain(a.domid);
      await w.host.destroyDomain(b.domid);
      await w.backend.settled();
      assert.deepEqual(
        wayland(),
        { connections: 1, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 1 },
        'a guest gone takes its window and pool',
      );
    } finally {
      await w.close();
    }
    assert.deepEqual(wayland(), { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 });
    assert.equal(openFds(), fds, 'no descriptor left (socket, memfds)');
  },
);

void test(
  "flips are paced by the compositor's presentation feedback: each EVT_PG_FLIP after its frame was presented, none faster than the refresh; Weston's refusal of dma-bufs counted once per framebuffer",
  { skip },
  async () => {
    // A kernel that exports guest buffers as dma-bufs: the window still gets copies, because this
    // Weston (pixman) offers no zwp_linux_dmabuf_v1; nothing is exported for nothing.
    const w = await waylandWorld({ width: 640, height: 480, dmabuf: 'contiguous' });
    try {
      const g = await w.host.createDomain({
        vdispl: ['connectors=main:320x240'],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      await waitConnected(g);
      const N = 120;
      const r = await g.run(script(0, 320, 240, 'XRGB8888', N), { timeoutMs: 120_000 });
      const flips = r.filter((x) => x.op === 'flip');
      assert.equal(flips.length, N);
      assert.deepEqual(
        flips.filter((x) => x.status !== 0 || x.flip !== 'event'),
        [],
      );
      const out = w.wayland.outputs()[0] as WaylandOutput;
      // Every flip was answered by wp_presentation's presented event for its commit (none by the
      // backend's 1 s flip watchdog, none by a timer of ours, none by a frame callback alone).
      assert.equal(out.stats.pacing, 'presentation');
      assert.equal(out.stats.flipsPresented, N, JSON.stringify(out.stats));
      assert.equal(out.stats.flipsShown, N, JSON.stringify(out.stats));
      assert.equal(out.stats.flipsDropped, 0);
      assert.equal(out.stats.hidden, false);
      assert.deepEqual(w.wayland.fallbacks.byReason(), { [DMABUF_REASONS.noGlobal]: 2 }, 'two framebuffers, once each');
      assert.equal(out.stats.dmabufCommits, 0);
      assert.equal(w.platform.resources().exportedDmaBufs, 0, 'no export taken for a compositor that cannot use it');
      const conn = w.backend.status()[0]!.connectors[0]!;
      assert.equal(conn.path, 'copied');
      // Weston's headless output refreshes at 60 Hz: N flips, each waiting for its event, cannot
      // take less than N-1 refresh periods if the callbacks pace them (a lower bound only).
      const spentMs = flips.reduce((s, x) => s + x.ms, 0);
      assert.ok(
        spentMs >= (N - 1) * (1000 / 60) * 0.95,
        `${N} flips in ${spentMs.toFixed(0)} ms: faster than the compositor's 60 Hz`,
      );
      assert.deepEqual(troubles(g), []);
    } finally {
      await w.close();
    }
  },
);
