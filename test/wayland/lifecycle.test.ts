// The Wayland output's life beside the compositor's: Weston restarting (the outputs run headless
// meanwhile, the windows come back) and a window the user closes (that connector runs headless,
// the guest keeps running), with nothing leaked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WaylandOutput } from '../../src/drm/wayland/wayland-output.js';
import type { ScriptStep } from '../../src/sim/frontend/protocol.js';
import { frames, troubles, waitConnected } from '../backend/helpers/sim-world.js';
import { waitFor } from '../backend/helpers/test-frontend.js';
import { westonAvailable } from './helpers/weston.js';
import { expected, onScreen, openFds, script, wayland, waylandWorld } from './helpers/wayland-world.js';

const skip = westonAvailable()
  ? false
  : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';

void test(
  'Weston restarts: the guest runs on (headless pacing, no timeout), its window comes back, nothing leaks',
  { skip },
  async () => {
    const fds = openFds();
    const w = await waylandWorld({ width: 640, height: 480 });
    try {
      const g = await w.host.createDomain({
        vdispl: ['connectors=main:320x240'],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      await waitConnected(g);
      const out = w.wayland.outputs()[0] as WaylandOutput;
      const ok = (rs: readonly { op: string; status: number; flip?: string }[]): void =>
        assert.deepEqual(
          rs.filter((r) => r.status !== 0 || (r.op === 'flip' && r.flip !== 'event')),
          [],
        );
      const steps = script(0, 320, 240, 'XRGB8888', 60);
      const setup = steps.slice(0, 6);
      const flipsOf = (from: number, to: number): ScriptStep[] =>
        Array.from({ length: to - from + 1 }, (_, k) => flipStep(from + k)).flat();
      ok(await g.run([...setup, ...flipsOf(1, 30)], { timeoutMs: 60_000 }));
      await onScreen(w, expected(320, 240, 'XRGB8888', 30, g.domid, 0), 'frame 30 on the first compositor');
      assert.equal(out.stats.flipsShown, 30);
      await w.weston.stop();
      await waitFor('the output headless', () => out.stats.windowless === 'disconnected');
      assert.deepEqual(
        wayland(),
        { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 },
        'the dead connection and its windows released',
      );
      // The guest keeps flipping while there is no compositor: the inner headless output paces it.
      ok(await g.run(flipsOf(31, 90), { timeoutMs: 60_000 }));
      await w.weston.start();
      await waitFor('the window back', () => out.stats.windowless === undefined, 20_000);
      const shown = out.stats.flipsShown;
      ok(await g.run(flipsOf(91, 120), { timeoutMs: 60_000 }));
      assert.ok(out.stats.flipsShown >= shown + 30, 'flips paced by the new compositor');
      await onScreen(w, expected(320, 240, 'XRGB8888', 120, g.domid, 0), 'frame 120 on the restarted compositor');
      assert.deepEqual(troubles(g), [], 'no timeout, no error while the compositor was away');
      assert.deepEqual(wayland(), { connections: 1, windows: 1, shmPools: 1, dmabufBuffers: 0, xdgOutputs: 1 });
    } finally {
      await w.close();
    }
    assert.deepEqual(wayland(), { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 });
    assert.equal(openFds(), fds, 'no descriptor left');
  },
);

/** Draw frame `i` into the buffer not shown and flip to it (the script's double buffering). */
function flipStep(i: number): ScriptStep[] {
  const b = i % 2;
  return [
    { op: 'draw', buffer: `b${b}c0`, frame: i, format: 'XRGB8888', width: 320, height: 240 },
    { op: 'flip', conn: 0, fb: `f${b}c0` },
  ];
}

void test(
  'a window the user closes turns its connector headless: the guest keeps running, the window stays closed across a reconnect',
  { skip },
  async () => {
    const w = await waylandWorld({ width: 640, height: 480 });
    try {
      const g = await w.host.createDomain({
        vdispl: ['connectors=main:320x240;side:160x120'],
        frontend: { kind: 'display', formats: ['XRGB8888'] },
        verbose: true,
      });
      await waitConnected(g);
      const [main, side] = (w.wayland.outputs() as WaylandOutput[])
        .sort((x, y) => x.mode.width - y.mode.width)
        .reverse();
      await waitFor('both windows shown', () => main!.stats.flipsShown > 10 && side!.stats.flipsShown > 10);
      // What the compositor sends when the user closes a window (xdg_toplevel.close): Weston's
      // headless backend has no input to click with, so the event enters where the addon's
      // listener hands it over.
      const closeEvent = {
        type: 'close' as const,
        window: (side as unknown as { surface: { w: { handle: { id: number } } } }).surface.w.handle.id,
        value: 0,
      };
      (side as unknown as { onWindowEvent(e: typeof closeEvent): void }).onWindowEvent(closeEvent);
      assert.equal(side!.stats.windowless, 'closed');
      assert.deepEqual(
        wayland(),
        { connections: 1, windows: 1, shmPools: 1, dmabufBuffers: 0, xdgOutputs: 1 },
        'the closed window and its pool released',
      );
      const before = frames(g, 0, 1).length;
      await waitFor('the side connector still flipping (headless)', () => frames(g, 0, 1).length > before + 60, 20_000);
      assert.ok(side!.currentFrame(), 'its picture is still there for snapshots');
      // A compositor restart brings back the open window only.
      await w.weston.stop();
      await w.weston.start();
      await waitFor('the main window back', () => main!.stats.windowless === undefined, 20_000);
      assert.equal(side!.stats.windowless, 'closed');
      assert.deepEqual(wayland(), { connections: 1, windows: 1, shmPools: 1, dmabufBuffers: 0, xdgOutputs: 1 });
      assert.deepEqual(troubles(g), []);
    } finally {
      await w.close();
    }
    assert.deepEqual(wayland(), { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 });
  },
);
