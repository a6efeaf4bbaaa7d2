// SET_CONFIG's two readings: the header's viewport inside the connector, and Linux xen-drm-front's
// multi-head form (one framebuffer for all heads; width/height = the framebuffer, x/y = the CRTC's
// source offset). Checked through the headless output's pixels, the way modetest sets two heads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XEN_EINVAL } from '../../src/displif/constants.js';
import { formatByName } from '../../src/displif/formats.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import type { ConnectorState } from '../../src/backend/ops/context.js';
import { fakeFlips } from './helpers/fake-flips.js';
import { deviceContext } from './helpers/device-context.js';
import { dbufCreate } from '../../src/backend/ops/dbuf-create.js';
import { fbAttach } from '../../src/backend/ops/framebuffers.js';
import { normaliseConfig, pgFlip, setConfig } from '../../src/backend/ops/scanout.js';
import { cookie } from '../../src/util/ids.js';
import { FakePlatform } from './helpers/fake-platform.js';

const XRGB = formatByName('XRGB8888')!;
const U32_MAX = 0xffff_ffff;

function rig() {
  const platform = new FakePlatform();
  const guest = platform.guest(5, 4096);
  const outputs = new HeadlessBackend();
  const heads = [
    { name: 'o0', width: 80, height: 60 },
    { name: 'o1', width: 64, height: 48 },
  ];
  const connectors: ConnectorState[] = heads.map((m, i) => ({
    index: i,
    uniqueId: `id${i}`,
    resolution: { width: m.width, height: m.height },
    output: outputs.createOutput(m),
    scanout: null,
  }));
  const ctx = deviceContext(platform, outputs, connectors);
  return { platform, guest, outputs, connectors, ctx };
}
type Rig = ReturnType<typeof rig>;

/** A frontend-allocated XRGB8888 framebuffer whose pixel (x, y) encodes its own coordinates. */
async function framebuffer(r: Rig, c: bigint, w: number, h: number): Promise<void> {
  const size = w * h * 4;
  const n = Math.ceil(size / 4096);
  const { dir, data } = r.guest.shareBuffer(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const at = (y * w + x) * 4;
      const page = r.guest.page(data[Math.floor(at / 4096)]!);
      const o = at % 4096;
      page[o] = x >> 8; // B
      page[o + 1] = y + 1; // G, never 0 so black means nothing shown
      page[o + 2] = x & 0xff; // R
    }
  }
  const res = await dbufCreate(r.ctx, {
    kind: 'dbuf-create',
    dbufCookie: cookie(c),
    geometry: { width: w, height: h, bpp: 32 },
    bufferSz: size,
    beAlloc: false,
    grefDirectory: dir,
    dataOfs: 0,
  });
  assert.equal(res.status, 0);
  assert.equal(
    fbAttach(r.ctx, {
      kind: 'fb-attach',
      dbufCookie: cookie(c),
      fbCookie: cookie(c + 100n),
      width: w,
      height: h,
      format: XRGB,
    }),
    0,
  );
}

const set = (r: Rig, i: number, fb: bigint, x: number, y: number, width: number, height: number): Promise<number> =>
  setConfig(r.ctx, r.connectors[i]!, {
    kind: 'set-config',
    config: { fbCookie: cookie(fb + 100n), x, y, width, height, bpp: 32 },
  });

/** The framebuffer coordinates shown at connector pixel (cx, cy), or null where black. */
function shownAt(r: Rig, i: number, cx: number, cy: number): { x: number; y: number } | null {
  const f = r.connectors[i]!.output.currentFrame();
  assert.ok(f);
  const p = (cy * f.width + cx) * 4;
  const [red, green, blue] = [f.rgba[p]!, f.rgba[p + 1]!, f.rgba[p + 2]!];
  if (green === 0) return null;
  return { x: (blue << 8) | red, y: green - 1 };
}

void test('two heads from one framebuffer (Linux form): each connector shows its own region of it', async () => {
  const r = rig();
  // modetest's layout: heads side by side in one 144x60 framebuffer (80 + 64 wide).
  await framebuffer(r, 1n, 144, 60);
  assert.equal(await set(r, 0, 1n, 0, 0, 144, 60), 0);
  assert.equal(await set(r, 1, 1n, 80, 0, 144, 60), 0);
  assert.deepEqual(r.connectors[0]!.scanout, {
    fbCookie: cookie(101n),
    x: 0,
    y: 0,
    width: 80,
    height: 60,
    srcX: 0,
    srcY: 0,
  });
  assert.deepEqual(r.connectors[1]!.scanout, {
    fbCookie: cookie(101n),
    x: 0,
    y: 0,
    width: 64,
    height: 48,
    srcX: 80,
    srcY: 0,
  });
  for (const [cx, cy] of [
    [1, 0],
    [79, 59],
    [40, 30],
  ] as const)
    assert.deepEqual(shownAt(r, 0, cx, cy), { x: cx, y: cy });
  for (const [cx, cy] of [
    [0, 0],
    [63, 47],
    [10, 20],
  ] as const)
    assert.deepEqual(shownAt(r, 1, cx, cy), { x: 80 + cx, y: cy });
  // A source offset in y too.
  assert.equal(await set(r, 1, 1n, 70, 12, 144, 60), 0);
  assert.deepEqual(shownAt(r, 1, 5, 3), { x: 75, y: 15 });
  assert.deepEqual(shownAt(r, 1, 63, 47), { x: 133, y: 59 });
  await r.outputs.close();
});

void test('header form unchanged: a viewport inside the connector, source (0, 0)', async () => {
  const r = rig();
  await framebuffer(r, 1n, 32, 16);
  assert.equal(await set(r, 0, 1n, 10, 20, 32, 16), 0);
  assert.deepEqual(r.connectors[0]!.scanout, {
    fbCookie: cookie(101n),
    x: 10,
    y: 20,
    width: 32,
    height: 16,
    srcX: 0,
    srcY: 0,
  });
  assert.deepEqual(shownAt(r, 0, 10, 20), { x: 0, y: 0 });
  assert.deepEqual(shownAt(r, 0, 41, 35), { x: 31, y: 15 });
  assert.equal(shownAt(r, 0, 9, 20), null, 'outside the viewport is black');
  // Both readings agree for a framebuffer of exactly the connector's size.
  await framebuffer(r, 2n, 80, 60);
  assert.equal(await set(r, 0, 2n, 0, 0, 80, 60), 0);
  assert.deepEqual(r.connectors[0]!.scanout, {
    fbCookie: cookie(102n),
    x: 0,
    y: 0,
    width: 80,
    height: 60,
    srcX: 0,
    srcY: 0,
  });
  await r.outputs.close();
});

void test('edges and hostile values are -EINVAL and never read outside the framebuffer', async () => {
  const r = rig();
  await framebuffer(r, 1n, 144, 60);
  // Exactly at the edge: the connector-sized region ends at the framebuffer's last column/row.
  assert.equal(await set(r, 1, 1n, 80, 12, 144, 60), 0);
  // One past it.
  assert.equal(await set(r, 1, 1n, 81, 0, 144, 60), -XEN_EINVAL);
  assert.equal(await set(r, 1, 1n, 0, 13, 144, 60), -XEN_EINVAL);
  // width/height not the framebuffer's and not a viewport inside the connector.
  assert.equal(await set(r, 0, 1n, 0, 0, 143, 60), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, 0, 0, 144, 59), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, 0, 0, 0, 0), -XEN_EINVAL);
  // u32 extremes and x + width wrapping in 32 bits (0xffffffb0 + 144 = 0x40 mod 2^32).
  assert.equal(await set(r, 0, 1n, U32_MAX, 0, 144, 60), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, 0, U32_MAX, 144, 60), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, 0xffff_ffb0, 0, 144, 60), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, 0, 0, U32_MAX, U32_MAX), -XEN_EINVAL);
  assert.equal(await set(r, 0, 1n, U32_MAX, U32_MAX, U32_MAX, U32_MAX), -XEN_EINVAL);
  // A failed SET_CONFIG leaves the last good one in place.
  assert.deepEqual(r.connectors[1]!.scanout?.srcX, 80);
  assert.equal(
    normaliseConfig(
      { width: 80, height: 60 },
      { width: 144, height: 60 },
      { x: 2 ** 32 - 64, y: 0, width: 144, height: 60 },
    ),
    null,
  );
  await r.outputs.close();
});

void test('PG_FLIP must cover the source region, not only the viewport size', async () => {
  const r = rig();
  await framebuffer(r, 1n, 144, 60);
  await framebuffer(r, 2n, 144, 60);
  await framebuffer(r, 3n, 100, 60); // covers 64x48 but not 80+64 columns
  assert.equal(await set(r, 1, 1n, 80, 0, 144, 60), 0);
  const flips = fakeFlips();
  assert.equal(pgFlip(r.ctx, r.connectors[1]!, { kind: 'pg-flip', fbCookie: cookie(103n) }, flips), -XEN_EINVAL);
  assert.equal(pgFlip(r.ctx, r.connectors[1]!, { kind: 'pg-flip', fbCookie: cookie(102n) }, flips), 0);
  assert.deepEqual(flips.queued, [cookie(102n)]);
  await r.outputs.close();
});
