// The Wayland output against a real compositor (Weston, headless, pixman): what each guest drew
// is what the compositor shows, pixel for pixel, read back with weston-screenshooter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawRegion } from '../../src/drm/headless/pixel-convert.js';
import { formatByName } from '../../src/displif/formats.js';
import { drawFrame } from '../../src/sim/frontend/pattern.js';
import type { ScriptStep } from '../../src/sim/frontend/protocol.js';
import { native } from '../../src/native/addon.js';
import { waitConnected, troubles } from '../backend/helpers/sim-world.js';
import { waitFor } from '../backend/helpers/test-frontend.js';
import { locate, westonAvailable } from './helpers/weston.js';
import { waylandWorld } from './helpers/wayland-world.js';

const skip = westonAvailable() ? false : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';

/** The picture the guest's pattern makes for `frame`, as RGBA (what a correct window shows). */
function expected(width: number, height: number, format: string, frame: number, domid: number, connector: number): { width: number; height: number; rgba: Uint8Array } {
  const fmt = formatByName(format)!;
  const pitch = width * fmt.cpp;
  const bytes = new Uint8Array(pitch * height);
  drawFrame({ bytes, offset: 0, pitch, width, height, format: fmt }, { frame, domid, connector });
  const rgba = new Uint8Array(width * height * 4);
  drawRegion({ src: bytes, offset: 0, pitch, width, height, fourcc: fmt.fourcc }, { rgba, width, height, x: 0, y: 0 });
  return { width, height, rgba };
}

function script(conn: number, width: number, height: number, format: string, frames: number): ScriptStep[] {
  const bpp = formatByName(format)!.bpp;
  const steps: ScriptStep[] = [
    { op: 'dumb-create', name: `b0c${conn}`, width, height, bpp },
    { op: 'dumb-create', name: `b1c${conn}`, width, height, bpp },
    { op: 'add-fb', name: `f0c${conn}`, buffer: `b0c${conn}`, width, height, format },
    { op: 'add-fb', name: `f1c${conn}`, buffer: `b1c${conn}`, width, height, format },
    { op: 'draw', buffer: `b0c${conn}`, frame: 0, format, width, height },
    { op: 'enable', conn, fb: `f0c${conn}` },
  ];
  for (let i = 1; i <= frames; i++) {
    const b = i % 2;
    steps.push({ op: 'draw', buffer: `b${b}c${conn}`, frame: i, format, width, height });
    steps.push({ op: 'flip', conn, fb: `f${b}c${conn}` });
  }
  return steps;
}

void test('each guest window shows exactly what the guest drew (XRGB8888 copied, RGB565 converted)', { skip }, async () => {
  const w = await waylandWorld({ width: 1024, height: 768, shell: 'kiosk-shell.so' });
  try {
    const g = await w.host.createDomain({ vdispl: ['connectors=main:320x240;side:240x136'], frontend: { kind: 'idle' }, verbose: false });
    await waitConnected(g);
    const r0 = await g.run(script(0, 320, 240, 'XRGB8888', 30), { timeoutMs: 60_000 });
    assert.ok(r0.every((r) => r.status === 0 && (r.op !== 'flip' || r.flip === 'event')), JSON.stringify(r0.filter((r) => r.status !== 0).slice(0, 3)));
    const r1 = await g.run(script(1, 240, 136, 'RGB565', 30), { timeoutMs: 60_000 });
    assert.ok(r1.every((r) => r.status === 0 && (r.op !== 'flip' || r.flip === 'event')), JSON.stringify(r1.filter((r) => r.status !== 0).slice(0, 3)));
    assert.deepEqual(troubles(g), []);
    // kiosk-shell centres the newest window (the second connector's) on the output.
    const side = expected(240, 136, 'RGB565', 30, g.domid, 1);
    const shot = await waitFor('the side window on screen', async () => {
      const s = await w.weston.screenshot();
      return locate(s, side) ? s : undefined;
    }, 20_000);
    assert.deepEqual(locate(shot, side), { x: (1024 - 240) / 2, y: (768 - 136) / 2 });
    const outs = w.wayland.outputs();
    assert.equal(outs.length, 2);
    assert.ok(native().nativeResources().waylandWindows >= 2);
  } finally {
    await w.close();
  }
  assert.deepEqual(
    (({ waylandConnections, waylandWindows, waylandShmPools }) => ({ waylandConnections, waylandWindows, waylandShmPools }))(native().nativeResources()),
    { waylandConnections: 0, waylandWindows: 0, waylandShmPools: 0 },
  );
});
