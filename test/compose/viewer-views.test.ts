// The viewer's per-connector view of a layout: each guest connector's own picture at its
// resolution (its viewport, black around it, nothing of the others), and the composed output
// whole under a key of its own; pixel for pixel, through the WebSocket as a browser gets them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { emptyChannelStats } from '../../src/backend/connector-channel.js';
import { parseLayout } from '../../src/backend/layouts.js';
import { ComposedOutput } from '../../src/drm/compose/composed-output.js';
import type { SlotOutput } from '../../src/drm/compose/slot-output.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import type { Frame, OutputConfig } from '../../src/drm/output.js';
import { OpsServices } from '../../src/ops/ops-services.js';
import { DeferredProbe, type DeviceProbe, type LayoutProbe } from '../../src/ops/probe.js';
import { decodeFrameMessage } from '../../src/ops/viewer/frame-message.js';
import { assertNoNewHandles, captureLogger, openHandles, waitFor } from '../ops/helpers.js';
import { flip, patternFb } from './helpers.js';

const LAYOUT = 'vm1/a@80x60+0+0,vm2/b@60x40+100+10';

async function world() {
  const headless = new HeadlessBackend([{ name: 'screen0', width: 200, height: 100 }]);
  const screen = headless.output('screen0')!;
  const composed = await ComposedOutput.open(screen, parseLayout('screen0', LAYOUT));
  const a = composed.attach('vm1/a', { width: 80, height: 60 });
  const b = composed.attach('vm2/b', { width: 64, height: 48 });
  return { headless, screen, composed, a, b };
}

/** Shows a tag-`tag` pattern framebuffer in `slot` with this viewport, and waits for the vblank. */
async function show(slot: SlotOutput, tag: number, view: Omit<OutputConfig, 'fb'>, fbW: number, fbH: number) {
  const fb = patternFb(fbW, fbH, tag);
  const cfg = { fb, ...view };
  await slot.setConfig(cfg);
  const r = await flip(slot, fb);
  assert.ok(r.shown, r.shown ? '' : r.reason);
  return cfg;
}

/** The connector's own picture, independently: the pattern (r = x, g = y, b = tag) inside the viewport, black elsewhere. */
function firstWrongPixel(f: Frame, cfg: OutputConfig, tag: number): string | undefined {
  for (let y = 0; y < f.height; y++)
    for (let x = 0; x < f.width; x++) {
      const inside = x >= cfg.x && y >= cfg.y && x < cfg.x + cfg.width && y < cfg.y + cfg.height;
      const sx = x - cfg.x + (cfg.srcX ?? 0);
      const sy = y - cfg.y + (cfg.srcY ?? 0);
      const want = inside ? [sx & 0xff, sy & 0xff, tag, 255] : [0, 0, 0, 255];
      const o = (y * f.width + x) * 4;
      const got = [...f.rgba.subarray(o, o + 4)];
      if (got.join() !== want.join()) return `(${x},${y}) want ${want.join(',')} got ${got.join(',')}`;
    }
  return undefined;
}

void test("a slot's own frame: the guest's viewport at its resolution, black around it, none while off", async () => {
  const { headless, composed, a, b } = await world();
  assert.equal(a.connectorFrame(), undefined, 'off: no picture');
  const ca = await show(a, 7, { x: 10, y: 5, width: 60, height: 50, srcX: 3, srcY: 2 }, 70, 60);
  const fa = a.connectorFrame()!;
  assert.deepEqual([fa.width, fa.height], [80, 60], "the connector's resolution, not its rectangle's");
  assert.equal(firstWrongPixel(fa, ca, 7), undefined);
  assert.equal(a.connectorFrame(), fa, 'the same frame until the slot shows another');
  // b's rectangle (60x40) is smaller than its resolution (64x48): its own view is not clipped.
  const cb = await show(b, 9, { x: 0, y: 0, width: 64, height: 48 }, 64, 48);
  const fb = b.connectorFrame()!;
  assert.deepEqual([fb.width, fb.height], [64, 48]);
  assert.equal(firstWrongPixel(fb, cb, 9), undefined);
  const next = await show(a, 8, { x: 0, y: 0, width: 80, height: 60 }, 80, 60);
  const fa2 = a.connectorFrame()!;
  assert.ok(fa2.sequence > fa.sequence, 'a new frame has a new sequence');
  assert.equal(firstWrongPixel(fa2, next, 8), undefined);
  await a.setConfig(null);
  assert.equal(a.connectorFrame(), undefined);
  await composed.close();
  await headless.close();
});

void test('the viewer sends each connector of a layout its own picture and the composed output whole', async () => {
  const before = openHandles();
  const { headless, screen, composed, a, b } = await world();
  const ca = await show(a, 3, { x: 4, y: 2, width: 70, height: 50 }, 80, 60);
  const cb = await show(b, 5, { x: 0, y: 0, width: 64, height: 48 }, 64, 48);
  const slots = [
    { slot: a, domid: 1, uniqueId: 'a' },
    { slot: b, domid: 2, uniqueId: 'b' },
  ];
  class LayoutDaemon extends DeferredProbe {
    override devices(): readonly DeviceProbe[] {
      return slots.map(({ slot, domid, uniqueId }) => ({
        domid,
        devId: 0,
        phase: 'connected',
        frontendState: 'Connected',
        error: undefined,
        connectors: [
          {
            index: 0,
            uniqueId,
            output: slot.name,
            resolution: slot.resolution,
            scanout: null,
            stats: emptyChannelStats(),
            connectorFrame: () => slot.connectorFrame(),
          },
        ],
      }));
    }
    override frame(name: string): Frame | undefined {
      return name === 'screen0' ? screen.currentFrame() : undefined;
    }
    override layouts(): readonly LayoutProbe[] {
      const s = composed.stats;
      return [
        {
          output: 'screen0',
          layout: LAYOUT,
          entries: s.entries,
          guests: composed.attached(),
          planes: s.planes,
          framesShown: s.framesShown,
          bytesComposed: s.bytesComposed,
          planeRefusals: s.planeRefusals,
          placements: s.placements,
        },
      ];
    }
  }
  const ops = await OpsServices.start({
    probe: new LayoutDaemon(),
    log: captureLogger().log,
    version: 't',
    controlSocket: undefined,
    metrics: 'off',
    viewer: { host: '127.0.0.1', port: 0 },
    sampleMs: 50,
  });
  const ws = new WebSocket(`ws://127.0.0.1:${ops.viewerAddress!.port}/ws`);
  try {
    const frames = new Map<string, { width: number; height: number; rgba: Uint8Array }>();
    let views: { kind: string; key: string; guests?: string[] }[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) {
        const m = JSON.parse(String(d)) as { type: string; connectors: typeof views };
        if (m.type === 'connectors') views = m.connectors;
        return;
      }
      const { header, png } = decodeFrameMessage(d as Buffer);
      frames.set(header.key, decodePng(png));
      ws.send(JSON.stringify({ type: 'ack', key: header.key }));
    });
    await waitFor(() => frames.size === 3, 'a frame for each connector and for the composed output', 30_000);
    assert.deepEqual(
      views.map((v) => [v.kind, v.key]),
      [
        ['connector', '1/0/0'],
        ['connector', '2/0/0'],
        ['output', 'output/screen0'],
      ],
    );
    assert.deepEqual(views[2]!.guests, ['vm1/a', 'vm2/b']);
    const own = (key: string, cfg: OutputConfig, tag: number, w: number, h: number): void => {
      const f = frames.get(key)!;
      assert.deepEqual([f.width, f.height], [w, h], `${key}: the connector's resolution`);
      assert.equal(firstWrongPixel({ ...f, sequence: 0 }, cfg, tag), undefined, key);
    };
    own('1/0/0', ca, 3, 80, 60);
    own('2/0/0', cb, 5, 64, 48);
    const whole = frames.get('output/screen0')!;
    const shown = screen.currentFrame()!;
    assert.deepEqual([whole.width, whole.height], [200, 100]);
    assert.ok(Buffer.from(whole.rgba).equals(Buffer.from(shown.rgba)), 'the composed output as it is shown');
  } finally {
    ws.terminate();
    await ops.close();
    await composed.close();
    await headless.close();
  }
  await assertNoNewHandles(before, 'the viewer of a layout');
});
