// A layout on a KMS output of the fake card whose monitor is replaced by one with other modes
// (the connector stays connected, only its modes change): the layout goes on at the preferred mode
// where it fits, else at the smallest mode that holds it, pixel for pixel; where no mode holds it,
// it is refused with one line naming the key and value, the CRTC goes dark, the guests keep their
// slots and their flips are answered at once as not shown, until a layout that fits is set or a
// monitor that can show it comes. Nothing is left on the card afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLayout, parseLayout } from '../../src/backend/layouts.js';
import { OutputMap } from '../../src/backend/output-map.js';
import type { Layout } from '../../src/drm/compose/layout.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import type { FlipResult, FramebufferDesc, Output } from '../../src/drm/output.js';
import { domId } from '../../src/util/ids.js';
import { mode } from '../kms/fake-drm.js';
import { rig, type Rig } from '../kms/helpers.js';
import { waitFor } from '../ops/helpers.js';
import { expectedAt, flipAtVblanks, patternFb, type ModelGuest } from './helpers.js';

function flipped(r: Rig, out: Output, fb: FramebufferDesc): Promise<FlipResult> {
  return flipAtVblanks(() => r.vblank(), out, fb);
}

/** Every pixel of the CRTC against the model (the fake card reads B, G, R). */
function screenMatches(r: Rig, w: number, h: number, layout: Layout, guests: ReadonlyMap<string, ModelGuest>): void {
  const s = r.dev.crtcState(40);
  assert.equal(`${s.mode?.hdisplay}x${s.mode?.vdisplay}`, `${w}x${h}`, 'the mode on the CRTC');
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const want = expectedAt(layout, guests, x, y);
      const got = r.dev.pixel(40, x, y);
      if (!got || got[0] !== want[2] || got[1] !== want[1] || got[2] !== want[0])
        assert.fail(`(${x},${y}) on ${w}x${h}: got ${got?.join(',')}, want ${[want[2], want[1], want[0]].join(',')}`);
    }
}

void test('a monitor with other modes: the layout at a mode that holds it, or refused with one line until one fits', async (t) => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], atomic: true });
  const headless = new HeadlessBackend();
  const said: string[] = [];
  const layouts = new Map<string, Layout>([
    ['HDMI-A-1', parseLayout('HDMI-A-1', '1/a@320x240+0+0,2/b@320x240+320+240')],
  ]);
  const map = new OutputMap({ backends: [r.backend], onDemand: headless, layouts, warn: (m) => said.push(m) });
  t.after(() => r.backend.close());
  assert.deepEqual(await map.applyLayouts(), []);
  const composed = map.compositions()[0]!;
  const claim = (domid: number, uid: string) => {
    const c = map.claim({
      guest: { domid: domId(domid) },
      devId: 0,
      index: 0,
      uniqueId: uid,
      resolution: { width: 320, height: 240 },
    });
    assert.ok(c.ok);
    return c.claim;
  };
  const ca = claim(1, 'a');
  const cb = claim(2, 'b');
  const fa = patternFb(320, 240, 1);
  const fb = patternFb(320, 240, 2);
  await ca.output.setConfig({ fb: fa, x: 0, y: 0, width: 320, height: 240 });
  await cb.output.setConfig({ fb, x: 0, y: 0, width: 320, height: 240 });
  assert.ok((await flipped(r, ca.output, fa)).shown);
  assert.ok((await flipped(r, cb.output, fb)).shown);
  const guests = new Map<string, ModelGuest>([
    ['1/a', { width: 320, height: 240, cfg: { fb: fa, x: 0, y: 0, width: 320, height: 240 } }],
    ['2/b', { width: 320, height: 240, cfg: { fb, x: 0, y: 0, width: 320, height: 240 } }],
  ]);
  screenMatches(r, 640, 480, layouts.get('HDMI-A-1')!, guests);
  const sizeIs = (w: number, h: number) => () => composed.size?.width === w && composed.size.height === h;

  // Another monitor between two looks (still connected): its preferred 800x600 holds the layout.
  r.dev.setMonitor('HDMI-A-1', [mode(800, 600, 60, true), mode(640, 480)]);
  r.backend.rescan();
  await waitFor(sizeIs(800, 600), 'the layout at 800x600');
  assert.ok((await flipped(r, ca.output, fa)).shown);
  screenMatches(r, 800, 600, layouts.get('HDMI-A-1')!, guests);

  // Its preferred mode is too small, another is not: the smallest that holds the layout.
  r.dev.setMonitor('HDMI-A-1', [mode(400, 300, 60, true), mode(1024, 768), mode(640, 480)]);
  r.backend.rescan();
  await waitFor(sizeIs(640, 480), 'the layout at 640x480');
  assert.ok((await flipped(r, cb.output, fb)).shown);
  screenMatches(r, 640, 480, layouts.get('HDMI-A-1')!, guests);

  // No mode holds it: refused with one line naming key and value; dark; flips answered at once.
  said.length = 0;
  r.dev.setMonitor('HDMI-A-1', [mode(512, 384, 60, true)]);
  r.backend.rescan();
  // Another monitor came between two looks: said as a swap, then the refusal.
  assert.match(said[0]!, /^output HDMI-A-1: another monitor \(other modes, no unplug seen\): layout /);
  assert.deepEqual(said.slice(1), [
    `layouts.HDMI-A-1 = "1/a@320x240+0+0,2/b@320x240+320+240": 2/b at 320x240+320+240 does not fit the output's 512x384; its guests keep running, shown nowhere until a monitor with a mode that holds it is plugged in or a layout that fits is set`,
  ]);
  await waitFor(() => composed.size === undefined && r.dev.crtcState(40).fbId === 0, 'the output dark');
  const before = composed.stats.bytesComposed;
  let answered: FlipResult | undefined;
  ca.output.flip(fa, (x) => (answered = x));
  await waitFor(() => answered !== undefined, 'the flip answered without a vblank');
  assert.deepEqual(answered, {
    shown: false,
    reason: "layout not shown: 2/b at 320x240+320+240 does not fit the output's 512x384",
  });
  assert.equal(composed.stats.bytesComposed, before, 'nothing composed while not shown');
  assert.match(composed.stats.notShown ?? '', /does not fit the output's 512x384/);
  assert.deepEqual(composed.attached().sort(), ['1/a', '2/b'], 'the guests keep their slots');
  assert.deepEqual(
    map.refusals.list().map((x) => [x.output, x.reason, x.previousShown]),
    [['HDMI-A-1', 'unfit', false]],
    'status shows why the output is dark',
  );

  // The operator sets a layout that fits: shown at once, the guests as they are.
  const fits = parseLayout('HDMI-A-1', '1/a@256x192+0+0:scaled,2/b@256x192+256+192');
  layouts.set('HDMI-A-1', fits);
  assert.deepEqual(await map.applyLayouts(), []);
  await waitFor(sizeIs(512, 384), 'the new layout at 512x384');
  assert.ok((await flipped(r, cb.output, fb)).shown);
  assert.equal(composed.stats.notShown, undefined);
  screenMatches(r, 512, 384, fits, guests);
  assert.deepEqual(map.refusals.list(), [], 'a layout that fits ends the refusal');

  // A layout that fits no mode of this monitor is refused; the previous one stays on screen.
  layouts.set('HDMI-A-1', parseLayout('HDMI-A-1', '1/a@600x400+0+0'));
  const problems = await map.applyLayouts();
  assert.deepEqual(problems, [
    `layouts.HDMI-A-1 = "1/a@600x400+0+0": 1/a at 600x400+0+0 does not fit the output's 512x384`,
  ]);
  assert.equal(formatLayout(composed.currentLayout), formatLayout(fits));
  assert.deepEqual(
    map.refusals.list().map((x) => [x.output, x.reason, x.previousShown, x.line]),
    [['HDMI-A-1', 'unfit', true, problems[0]]],
  );
  layouts.set('HDMI-A-1', fits);
  assert.deepEqual(await map.applyLayouts(), []);
  assert.deepEqual(map.refusals.list(), []);

  // Monitors unplugged and plugged (status change): the layout goes on at the new preferred mode.
  r.dev.setMonitor('HDMI-A-1', undefined);
  r.backend.rescan();
  r.dev.setMonitor('HDMI-A-1', [mode(640, 480, 60, true)]);
  r.backend.rescan();
  await waitFor(sizeIs(640, 480), 'back at 640x480');
  assert.ok((await flipped(r, ca.output, fa)).shown);
  screenMatches(r, 640, 480, fits, guests);

  ca.release();
  cb.release();
  await map.closeLayouts();
  map.close();
  for (const g of [fa, fb]) r.backend.output('HDMI-A-1')!.release(g);
  await r.backend.close();
  assert.equal(r.dev.liveFramebuffers, 0, 'framebuffers left on the card');
  assert.equal(r.dev.liveDumbs, 0, 'dumb buffers left');
  assert.deepEqual(r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
});
