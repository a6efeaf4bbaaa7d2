import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatByName, type PixelFormat } from '../../src/displif/formats.js';
import type { FlipResult, FramebufferDesc } from '../../src/drm/output.js';
import { HeadlessBackend, parseHeadlessSpec } from '../../src/drm/headless/headless-backend.js';
import { HeadlessOutput } from '../../src/drm/headless/headless-output.js';
import { drawRegion } from '../../src/drm/headless/pixel-convert.js';
import { decodePng, encodePng, snapshotFileName } from '../../src/drm/headless/snapshot.js';
import { domId, grantRefsOf, type DomId } from '../../src/util/ids.js';
import type { GrantedBuffer, XenPlatform } from '../../src/xen/platform.js';

let nextFbId = 1;
function fmt(name: string): PixelFormat {
  const f = formatByName(name);
  assert.ok(f, name);
  return f;
}

/** An XRGB8888 framebuffer whose pixel (x, y) is (r = x, g = y, b = tag). */
function xrgbFb(width: number, height: number, tag: number, pad = 0): FramebufferDesc {
  const pitch = width * 4 + pad;
  const bytes = new Uint8Array(pitch * height + 16);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 16 + y * pitch + x * 4;
      bytes[o] = tag; // B
      bytes[o + 1] = y & 0xff; // G
      bytes[o + 2] = x & 0xff; // R
      bytes[o + 3] = 0x7f; // X: ignored
    }
  }
  return {
    id: nextFbId++,
    width,
    height,
    fourcc: fmt('XRGB8888').fourcc,
    pitch,
    offset: 16,
    buffer: { domid: domId(1), size: bytes.length, bytes },
  };
}

function px(rgba: Uint8Array, width: number, x: number, y: number): number[] {
  const o = (y * width + x) * 4;
  return [...rgba.subarray(o, o + 4)];
}

function flip(out: HeadlessOutput, fb: FramebufferDesc): Promise<FlipResult> {
  return new Promise((resolve) => out.flip(fb, resolve));
}

void test('every format of the allow-list converts to the right RGBA', () => {
  // One pixel each, encoded by hand from drm_fourcc.h's little-endian layouts.
  const cases: Array<[string, number[], number[]]> = [
    ['XRGB8888', [0x30, 0x20, 0x10, 0x99], [0x10, 0x20, 0x30, 255]],
    ['ARGB8888', [0x30, 0x20, 0x10, 0x00], [0x10, 0x20, 0x30, 255]],
    ['RGB888', [0x30, 0x20, 0x10], [0x10, 0x20, 0x30, 255]],
    // RGB565 0xF800 = pure red; 0x07E0 = pure green.
    ['RGB565', [0x00, 0xf8], [255, 0, 0, 255]],
    ['RGB565', [0xe0, 0x07], [0, 255, 0, 255]],
    // XRGB4444 0x0F0A: R=0xF G=0x0 B=0xA.
    ['XRGB4444', [0x0a, 0x0f], [255, 0, 170, 255]],
    ['ARGB4444', [0x0a, 0x0f], [255, 0, 170, 255]],
    // XRGB1555 0x7C1F: R=31 G=0 B=31.
    ['XRGB1555', [0x1f, 0x7c], [255, 0, 255, 255]],
    ['ARGB1555', [0x1f, 0xfc], [255, 0, 255, 255]],
    // YUYV: white (Y=235, U=V=128) then black (Y=16).
    ['YUYV', [235, 128, 16, 128], [255, 255, 255, 255, 0, 0, 0, 255]],
  ];
  for (const [name, bytes, want] of cases) {
    const width = want.length / 4;
    const rgba = new Uint8Array(want.length);
    const rows = drawRegion(
      { src: Uint8Array.from(bytes), offset: 0, pitch: bytes.length, width, height: 1, fourcc: fmt(name).fourcc },
      { rgba, width, height: 1, x: 0, y: 0 },
    );
    assert.equal(rows, 1, name);
    assert.deepEqual([...rgba], want, name);
  }
});

void test('drawRegion never reads past the bytes it has and clips to the target', () => {
  const src = new Uint8Array(4 * 4 * 2); // two rows of 4 XRGB pixels
  src.fill(0xff);
  const rgba = new Uint8Array(3 * 3 * 4);
  // Claims 10 rows: draws the 2 that exist; 4 columns into a 3-wide target at x=1: 2 columns.
  const rows = drawRegion(
    { src, offset: 0, pitch: 16, width: 4, height: 10, fourcc: fmt('XRGB8888').fourcc },
    { rgba, width: 3, height: 3, x: 1, y: 0 },
  );
  assert.equal(rows, 2);
  assert.deepEqual(px(rgba, 3, 0, 0), [0, 0, 0, 0]);
  assert.deepEqual(px(rgba, 3, 1, 0), [255, 255, 255, 255]);
  assert.deepEqual(px(rgba, 3, 2, 1), [255, 255, 255, 255]);
  assert.deepEqual(px(rgba, 3, 1, 2), [0, 0, 0, 0]);
  // Unknown FourCC: nothing.
  assert.equal(
    drawRegion(
      { src, offset: 0, pitch: 16, width: 4, height: 1, fourcc: 7 },
      { rgba, width: 3, height: 3, x: 0, y: 0 },
    ),
    0,
  );
});

void test('modeset, flips at vblank on the mode grid, frame readable, PNG round trip', async () => {
  const out = new HeadlessOutput('t0', { width: 64, height: 48, refreshMilliHz: 60000, preferred: true });
  try {
    assert.equal(out.currentFrame(), undefined);
    const a = xrgbFb(32, 24, 0xaa, 12);
    const b = xrgbFb(32, 24, 0xbb);
    await out.setConfig({ fb: a, x: 8, y: 4, width: 32, height: 24 });
    let f = out.currentFrame();
    assert.ok(f);
    assert.deepEqual(px(f.rgba, 64, 8 + 5, 4 + 7), [5, 7, 0xaa, 255]);
    assert.deepEqual(px(f.rgba, 64, 0, 0), [0, 0, 0, 255], 'outside the viewport is black');
    const h1 = out.contentHash();

    const r1 = await flip(out, b);
    const r2 = await flip(out, a);
    assert.ok(r1.shown && r2.shown);
    // Timestamps are vblank instants: a whole number of 1/60 s periods apart.
    const period = 1e12 / 60000;
    const k = Number(r2.timestampNs - r1.timestampNs) / period;
    assert.ok(k >= 1 && Math.abs(k - Math.round(k)) < 1e-3, `flips ${k} periods apart`);
    await flip(out, b);
    f = out.currentFrame();
    assert.ok(f);
    assert.deepEqual(px(f.rgba, 64, 8 + 31, 4 + 23), [31, 23, 0xbb, 255]);
    assert.notEqual(out.contentHash(), h1);
    assert.equal(out.stats.flipsShown, 3);

    const back = decodePng(encodePng(f));
    assert.equal(back.width, 64);
    assert.equal(back.height, 48);
    assert.deepEqual(Buffer.from(back.rgba), Buffer.from(f.rgba));
    assert.equal(snapshotFileName('dom1/0/id 0'), 'dom1_0_id_0.png');
  } finally {
    out.close();
  }
});

void test('a newer flip replaces a queued one; flips while disabled are dropped; close drops what waits', async () => {
  const out = new HeadlessOutput('t1', { width: 16, height: 16, refreshMilliHz: 60000, preferred: true });
  const a = xrgbFb(16, 16, 1);
  const b = xrgbFb(16, 16, 2);
  const dropped = await flip(out, a);
  assert.deepEqual(dropped, { shown: false, reason: 'output disabled' });
  await out.setConfig({ fb: a, x: 0, y: 0, width: 16, height: 16 });
  const order: string[] = [];
  const p1 = new Promise<FlipResult>((res) => out.flip(a, (r) => (order.push('a'), res(r))));
  const p2 = new Promise<FlipResult>((res) => out.flip(b, (r) => (order.push('b'), res(r))));
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.equal(r1.shown, false);
  assert.equal(r2.shown, true);
  assert.deepEqual(order, ['a', 'b'], 'completions in submission order');
  const p3 = flip(out, a);
  out.close();
  assert.equal((await p3).shown, false);
  await assert.rejects(out.setConfig({ fb: a, x: 0, y: 0, width: 16, height: 16 }), /gone/);
});

void test('viewport outside the mode or larger than the framebuffer is refused with EINVAL', async () => {
  const out = new HeadlessOutput('t2', { width: 16, height: 16, refreshMilliHz: 60000, preferred: true });
  try {
    const a = xrgbFb(8, 8, 1);
    await assert.rejects(
      out.setConfig({ fb: a, x: 10, y: 0, width: 8, height: 8 }),
      (e: { errno?: number }) => e.errno === 22,
    );
    await assert.rejects(
      out.setConfig({ fb: a, x: 0, y: 0, width: 9, height: 8 }),
      (e: { errno?: number }) => e.errno === 22,
    );
    assert.equal(out.enabled, false);
  } finally {
    out.close();
  }
});

void test('a framebuffer released while shown stays on screen: its pages are held, not copied, until the screen moves off', async () => {
  const backend = new HeadlessBackend([{ name: 'h0', width: 8, height: 8 }]);
  const out = backend.output('h0');
  assert.ok(out);
  const plain = xrgbFb(8, 8, 0x42);
  let holds = 0;
  let converted = 0;
  const a: FramebufferDesc = {
    ...plain,
    buffer: {
      ...plain.buffer,
      // Counts reads of the pixels: the release itself must not convert the frame.
      get bytes() {
        converted++;
        return plain.buffer.bytes;
      },
      retain: () => {
        holds++;
        return () => holds--;
      },
    },
  };
  const b = xrgbFb(8, 8, 0x17);
  await out.setConfig({ fb: a, x: 0, y: 0, width: 8, height: 8 });
  assert.equal(backend.resources().framebuffers, 1);
  converted = 0;
  out.release(a);
  out.release(a); // a second release (FB_DETACH, then DBUF_DESTROY) holds nothing more
  assert.equal(converted, 0, 'release does not read the pixels');
  assert.equal(holds, 1, 'the pages are held while shown');
  assert.equal(backend.resources().framebuffers, 0);
  const frame = out.currentFrame();
  assert.ok(frame);
  assert.deepEqual(px(frame.rgba, 8, 3, 5), [3, 5, 0x42, 255], 'the last picture, converted on demand');
  out.release(b); // releasing another framebuffer changes nothing
  assert.equal(holds, 1);
  await out.setConfig({ fb: b, x: 0, y: 0, width: 8, height: 8 });
  assert.equal(holds, 0, 'let go once the screen shows another framebuffer');
  await out.setConfig({ fb: a, x: 0, y: 0, width: 8, height: 8 });
  out.release(a);
  assert.equal(holds, 1);
  await out.setConfig(null);
  assert.equal(holds, 0, 'let go when the output is turned off');
  assert.equal(out.currentFrame(), undefined);
  await out.setConfig({ fb: a, x: 0, y: 0, width: 8, height: 8 });
  out.release(a);
  await backend.close();
  assert.equal(holds, 0, 'let go when the output goes');
  assert.equal(backend.outputs().length, 0);
});

void test('headless backend: output specs, on-demand outputs, be-alloc through the platform allocator', async () => {
  assert.deepEqual(parseHeadlessSpec('screen0=1920x1080'), {
    name: 'screen0',
    width: 1920,
    height: 1080,
    refreshMilliHz: 60000,
  });
  assert.deepEqual(parseHeadlessSpec('x=640x480@59.94'), { name: 'x', width: 640, height: 480, refreshMilliHz: 59940 });
  assert.throws(() => parseHeadlessSpec('bad'), /NAME=WIDTHxHEIGHT/);
  assert.throws(() => parseHeadlessSpec('a=0x10'), /out of range/);

  const backend = new HeadlessBackend();
  const o = backend.createOutput({ name: 'dyn', width: 4, height: 4 });
  assert.equal(backend.output('dyn'), o);
  assert.throws(() => backend.createOutput({ name: 'dyn', width: 4, height: 4 }), /exists/);
  backend.removeOutput('dyn');
  assert.equal(backend.output('dyn'), undefined);

  const calls: Array<[DomId, number]> = [];
  const platform = {
    allocGranted: (d: DomId, pages: number): Promise<GrantedBuffer> => {
      calls.push([d, pages]);
      return Promise.resolve({ domid: d, refs: grantRefsOf([]), bytes: new Uint8Array(pages * 4096), close: () => {} });
    },
  } as unknown as XenPlatform;
  const g = await backend.allocateGuestBuffer(platform, domId(3), 4097);
  assert.deepEqual(calls, [[3, 2]]);
  assert.equal(g.bytes?.length, 8192);
  await backend.close();
});
