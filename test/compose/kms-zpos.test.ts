// A layout's stacking and scaling on the fake card's overlay planes. The stacking order becomes the
// planes' zpos where it is mutable (set in the commit: the primary at its lowest, each guest above
// the one under it), is taken as the card gives it where immutable (each guest on the plane whose
// fixed zpos puts it in the layout's order), and a stacking the planes cannot show sends the
// guests concerned to the CPU with a reason. A scaled entry goes on a plane only where that plane
// scales (found by a test-only commit), else the CPU scales it. Every pixel of the screen is
// compared with the model, through the planes the card really lit and the order it stacks them
// in (zpos, then plane id); and status's placements, planes and each guest's path agree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLayout } from '../../src/backend/layouts.js';
import { ComposedOutput } from '../../src/drm/compose/composed-output.js';
import type { Layout } from '../../src/drm/compose/layout.js';
import type { SlotOutput } from '../../src/drm/compose/slot-output.js';
import { mode, type FakeCardOptions, type FakeOverlaySpec } from '../kms/fake-drm.js';
import { guestFb, rig, type GuestFb, type Rig } from '../kms/helpers.js';
import { expectedAt, flipAtVblanks, type ModelGuest } from './helpers.js';

const CRTC = 40;

interface Guest {
  readonly key: string;
  readonly slot: SlotOutput;
  readonly fb: GuestFb;
}

interface Bench {
  readonly r: Rig;
  readonly composed: ComposedOutput;
  readonly guests: Guest[];
  readonly model: Map<string, ModelGuest>;
  layout: Layout;
}

/** The card with `overlays`, a layout on its 640x480 output, each guest 320x240 showing its pattern. */
async function bench(card: Partial<FakeCardOptions>, layout: string): Promise<Bench> {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }], atomic: true, ...card });
  const screen = r.backend.output('HDMI-A-1')!;
  const parsed = parseLayout('HDMI-A-1', layout);
  const composed = await ComposedOutput.open(screen, parsed, { allocate: (s) => r.backend.allocateDrawBuffer(s) });
  const guests: Guest[] = [];
  const model = new Map<string, ModelGuest>();
  for (const [i, e] of parsed.entries.entries()) {
    const slot = composed.attach(e.key, { width: 320, height: 240 });
    const fb = guestFb(r.dev, 320, 240, { tag: 10 + i });
    const cfg = { fb: fb.desc, x: 0, y: 0, width: 320, height: 240 };
    await slot.setConfig(cfg);
    guests.push({ key: e.key, slot, fb });
    model.set(e.key, { width: 320, height: 240, cfg });
  }
  const b = { r, composed, guests, model, layout: parsed };
  await flipAll(b);
  return b;
}

function flipOne(b: Bench, g: Guest): Promise<boolean> {
  return flipAtVblanks(() => b.r.vblank(), g.slot, g.fb.desc).then((x) => x.shown);
}

/** Every guest flips, twice (the second frame shows what the first readied: imports, tests). */
async function flipAll(b: Bench): Promise<void> {
  for (let k = 0; k < 2; k++) for (const g of b.guests) assert.ok(await flipOne(b, g), `${g.key} shown`);
}

/** Every pixel of the screen as the model says, through the planes the card lit. */
function checkPixels(b: Bench, what: string): void {
  for (let y = 0; y < 480; y++)
    for (let x = 0; x < 640; x++) {
      const want = expectedAt(b.layout, b.model, x, y);
      const got = b.r.dev.pixel(CRTC, x, y);
      if (!got || got[0] !== want[2] || got[1] !== want[1] || got[2] !== want[0])
        assert.fail(`${what}: (${x},${y}) got ${got?.join(',')}, want ${[want[2], want[1], want[0]].join(',')}`);
    }
}

/** Which guests are on planes, as status has them, checked against planes and each guest's path. */
function onPlanes(b: Bench): string[] {
  const s = b.composed.stats;
  const planed = s.placements.filter((p) => p.plane).map((p) => p.key);
  assert.equal(s.planes, 1 + planed.length, 'status: planes = the primary + the guests on planes');
  assert.equal(b.r.dev.litOverlays(CRTC), planed.length, 'the card lights as many overlays');
  for (const g of b.guests) {
    const path = g.slot.pathOf(g.fb.desc);
    assert.equal(path.path, planed.includes(g.key) ? 'dma-buf' : 'copied', `${g.key}'s path agrees with placements`);
  }
  return planed;
}

function why(b: Bench, key: string): string | undefined {
  const p = b.composed.stats.placements.find((x) => x.key === key);
  return p && !p.plane ? p.why : undefined;
}

/** The lit overlay plane showing `g`'s picture (each guest's pixel (0, 0) carries its tag). */
function planeOf(b: Bench, g: Guest): number | undefined {
  const want = g.fb.px(0, 0).join(',');
  return b.r.dev.litOrder(CRTC).find((id) => b.r.dev.overlayOrigin(id)?.join(',') === want);
}

async function bytesPerFlip(b: Bench, g: Guest, flips: number): Promise<number> {
  assert.ok(await flipOne(b, g));
  const c0 = b.composed.stats.bytesComposed;
  for (let i = 0; i < flips; i++) assert.ok(await flipOne(b, g));
  return (b.composed.stats.bytesComposed - c0) / flips;
}

async function done(b: Bench): Promise<void> {
  await b.composed.close();
  for (const g of b.guests) g.slot.release(g.fb.desc);
  await b.r.backend.close();
  assert.equal(b.r.dev.liveFramebuffers, 0, 'framebuffers left on the card');
  assert.equal(b.r.dev.liveHandles, 0, 'GEM handles left');
  assert.deepEqual(b.r.backend.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
}

// a below b, overlapping over 160x120: which one the card shows there tells the stacking.
const OVERLAPPING = '1/a@320x240+0+0,2/b@320x240+160+120';

void test('mutable zpos: the layout order becomes the planes zpos, the primary at its lowest; a new order restacks them', async () => {
  // Listed in the reverse of their initial zpos, the primary initially above one of them: taken
  // in the card's order as they are, b would be under a and under the primary.
  const b = await bench(
    {
      primaryZpos: { value: 2, min: 0, max: 3 },
      overlays: [{ zpos: { value: 3, min: 1, max: 3 } }, { zpos: { value: 1, min: 1, max: 3 } }],
    },
    OVERLAPPING,
  );
  assert.deepEqual(onPlanes(b), ['1/a', '2/b']);
  checkPixels(b, 'a under b');
  const [a, bb] = b.guests as [Guest, Guest];
  assert.equal(b.r.dev.planeZpos(60), 0n, 'the primary at its lowest zpos');
  const za = b.r.dev.planeZpos(planeOf(b, a)!)!;
  const zb = b.r.dev.planeZpos(planeOf(b, bb)!)!;
  assert.ok(za > 0n && zb > za, `zpos a ${za}, b ${zb}`);
  assert.equal(b.composed.stats.planeRefusals, 0);
  assert.equal(await bytesPerFlip(b, bb, 3), 0, 'a guest on its plane costs no byte composed');

  // b under a now: the zpos follow at the next frame.
  b.layout = parseLayout('HDMI-A-1', '2/b@320x240+160+120,1/a@320x240+0+0');
  assert.equal(b.composed.setLayout(b.layout), undefined);
  await flipAll(b);
  assert.deepEqual(onPlanes(b).sort(), ['1/a', '2/b']);
  checkPixels(b, 'b under a');
  assert.ok(b.r.dev.planeZpos(planeOf(b, bb)!)! < b.r.dev.planeZpos(planeOf(b, a)!)!);
  await done(b);
});

void test('immutable zpos: each guest on the plane whose fixed zpos keeps the layout order; no zpos written', async () => {
  // The first plane listed is the upper one.
  const b = await bench(
    {
      primaryZpos: { value: 0, immutable: true },
      overlays: [{ zpos: { value: 2, immutable: true } }, { zpos: { value: 1, immutable: true } }],
    },
    OVERLAPPING,
  );
  assert.deepEqual(onPlanes(b), ['1/a', '2/b']);
  checkPixels(b, 'a under b on fixed planes');
  const [a, bb] = b.guests as [Guest, Guest];
  assert.equal(planeOf(b, a), 81, 'a on the plane at zpos 1');
  assert.equal(planeOf(b, bb), 80, 'b on the plane at zpos 2');
  // Writing an immutable zpos fails a commit (EINVAL): none was refused, none failed.
  assert.equal(b.composed.stats.planeRefusals, 0);
  assert.equal(b.r.dev.overlayTests.refused, 0);
  await done(b);
});

void test('a stacking the planes cannot show: the guests concerned composed by the CPU, with the reason', async () => {
  // One plane under the primary (fixed), one above: a single guest can be on a plane.
  const under = await bench(
    {
      primaryZpos: { value: 1, immutable: true },
      overlays: [{ zpos: { value: 0, immutable: true } }, { zpos: { value: 2, immutable: true } }],
    },
    OVERLAPPING,
  );
  assert.equal(under.r.backend.output('HDMI-A-1')!.overlayPlanes, 1);
  assert.deepEqual(onPlanes(under), ['2/b'], 'the top guest on the plane above the primary');
  assert.match(why(under, '1/a') ?? '', /no overlay plane left \(1 can stack above the primary\)/);
  assert.match(
    under.guests[0]!.slot.pathOf(under.guests[0]!.fb.desc).reason ?? '',
    /composed into output HDMI-A-1: no overlay plane left/,
  );
  checkPixels(under, 'a composed under b');
  await done(under);

  // Two planes at the same fixed zpos: their order is undefined, so one is used.
  const same = await bench(
    {
      primaryZpos: { value: 0, immutable: true },
      overlays: [{ zpos: { value: 1, immutable: true } }, { zpos: { value: 1, immutable: true } }],
    },
    OVERLAPPING,
  );
  assert.deepEqual(onPlanes(same), ['2/b']);
  checkPixels(same, 'equal zpos');
  await done(same);

  // The only plane that scales is the lower one (fixed order, no zpos): a scaled guest above a
  // 1:1 one cannot have it with the other above... so the bottom guest goes to the CPU, said why.
  const s = await bench(
    { overlays: [{ scales: true }, { scales: false }] },
    '1/u@320x240+0+0,2/s@160x120+240+180:scaled',
  );
  assert.deepEqual(onPlanes(s), ['2/s'], 'the scaled guest on the plane that scales');
  assert.match(why(s, '1/u') ?? '', /cannot stack 2 guests in the layout's order/);
  assert.ok(s.composed.stats.planeRefusals >= 1);
  checkPixels(s, 'u composed, s scaled by its plane');
  await done(s);
});

void test('plane scaling: a scaled entry on a plane that scales; where none does, the CPU scales it', async () => {
  const scaling: FakeOverlaySpec[] = [{ scales: true }, { scales: false }];
  const b = await bench({ overlays: scaling }, '2/s@160x120+400+300:scaled,1/u@320x240+0+0');
  assert.deepEqual(onPlanes(b).sort(), ['1/u', '2/s']);
  const [s, u] = b.guests as [Guest, Guest];
  assert.equal(planeOf(b, s), 80, 'the scaled guest on the plane that scales');
  assert.equal(planeOf(b, u), 81);
  checkPixels(b, 'scaled by the plane');
  assert.equal(await bytesPerFlip(b, s, 3), 0, 'a scaled guest on its plane costs no byte composed');
  await done(b);

  const none = await bench(
    { overlays: [{ scales: false }, { scales: false }] },
    '2/s@160x120+400+300:scaled,1/u@320x240+0+0',
  );
  assert.deepEqual(onPlanes(none), ['1/u']);
  assert.equal(why(none, '2/s'), 'no overlay plane scales 320x240 to 160x120');
  checkPixels(none, 'scaled by the CPU');
  assert.equal(await bytesPerFlip(none, none.guests[0]!, 2), 160 * 120 * 4, 'the CPU scales its rectangle');
  assert.equal(none.composed.stats.planeRefusals, 0, 'found by a test-only commit per plane, not refused per frame');
  const tests = none.r.dev.overlayTests.refused;
  await bytesPerFlip(none, none.guests[0]!, 3);
  assert.equal(none.r.dev.overlayTests.refused, tests, 'what a plane cannot scale is remembered');
  await done(none);
});

void test('a still layout goes onto its planes once their imports finish, with no flip from its guests', async () => {
  // As a guest drawing one picture (modetest without -v): SET_CONFIG and nothing after. The first
  // frame is composed while the buffers are imported for planes; the import finishing is the only
  // reason left for a frame, and it comes while that first frame waits for its vblank.
  const r = rig({
    connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }],
    atomic: true,
    overlays: [{}, {}],
  });
  const layout = parseLayout('HDMI-A-1', '1/a@320x240+0+0,2/b@320x240+320+0');
  const composed = await ComposedOutput.open(r.backend.output('HDMI-A-1')!, layout, {
    allocate: (s) => r.backend.allocateDrawBuffer(s),
  });
  const guests: Guest[] = [];
  const model = new Map<string, ModelGuest>();
  for (const [i, e] of layout.entries.entries()) {
    const slot = composed.attach(e.key, { width: 320, height: 240 });
    const fb = guestFb(r.dev, 320, 240, { tag: 20 + i });
    const cfg = { fb: fb.desc, x: 0, y: 0, width: 320, height: 240 };
    await slot.setConfig(cfg);
    guests.push({ key: e.key, slot, fb });
    model.set(e.key, { width: 320, height: 240, cfg });
  }
  const b: Bench = { r, composed, guests, model, layout };
  // Vblanks only: each frame the composition asks for goes out; the guests send nothing.
  for (let i = 0; i < 40 && r.dev.litOverlays(CRTC) < 2; i++) {
    r.vblank();
    await new Promise((res) => setTimeout(res, 5));
  }
  assert.deepEqual(onPlanes(b), ['1/a', '2/b'], JSON.stringify(b.composed.stats.placements));
  checkPixels(b, 'both on their planes');
  await done(b);
});
