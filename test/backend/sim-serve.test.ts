// Multi-process: the backend serving simulated guests (each its own OS process running a
// xen-drm-front-like driver) through the simulated hypervisor and xenstored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, writePng } from '../../src/drm/headless/snapshot.js';
import { parseQuotas } from '../../src/backend/quotas.js';
import { decodeFrameRgba } from '../../src/sim/frontend/pattern.js';
import type { ScriptStep } from '../../src/sim/frontend/protocol.js';
import { assertClean, frames, simWorld, troubles, waitConnected } from './helpers/sim-world.js';

const E = { ENOENT: -2, ENOMEM: -12, EEXIST: -17, EINVAL: -22, E2BIG: -7 } as const;

void test('connect, modeset, 600 flips with every event in order; the snapshot shows the last frame drawn', async () => {
  const w = await simWorld();
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-snap-'));
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:640x480'],
      frontend: { kind: 'idle' },
      verbose: false,
    });
    await waitConnected(g);
    const steps: ScriptStep[] = [
      { op: 'dumb-create', name: 'b0', width: 640, height: 480, bpp: 32 },
      { op: 'dumb-create', name: 'b1', width: 640, height: 480, bpp: 32 },
      { op: 'add-fb', name: 'f0', buffer: 'b0', width: 640, height: 480, format: 'XRGB8888' },
      { op: 'add-fb', name: 'f1', buffer: 'b1', width: 640, height: 480, format: 'XRGB8888' },
      { op: 'draw', buffer: 'b0', frame: 0, format: 'XRGB8888', width: 640, height: 480 },
      { op: 'enable', conn: 0, fb: 'f0' },
    ];
    for (let i = 1; i <= 600; i++) {
      const b = i % 2;
      steps.push({ op: 'draw', buffer: `b${b}`, frame: i, format: 'XRGB8888', width: 640, height: 480 });
      steps.push({ op: 'flip', conn: 0, fb: `f${b}` });
    }
    const results = await g.run(steps, { timeoutMs: 120_000 });
    assert.ok(
      results.every((r) => r.status === 0),
      `failed steps: ${JSON.stringify(results.filter((r) => r.status !== 0).slice(0, 3))}`,
    );
    const flips = results.filter((r) => r.op === 'flip');
    assert.equal(flips.length, 600);
    assert.ok(
      flips.every((r) => r.flip === 'event'),
      'every flip released by its event, none by the 3.1 s timeout',
    );
    assert.deepEqual(troubles(g), [], 'no event out of sequence, no timeout, no ignored response');
    const conn = w.backend.status()[0]!.connectors[0]!;
    assert.equal(conn.stats.flipsQueued, 600);
    assert.equal(conn.eventsWritten, 600, 'one event per flip: ids 0..599');

    const out = w.headless.output(conn.output)!;
    const frame = out.currentFrame()!;
    const file = join(dir, 'id0.png');
    writePng(file, frame);
    const png = decodePng(readFileSync(file));
    const tag = decodeFrameRgba(png.rgba, png.width, png.height);
    assert.ok(tag, 'the PNG carries the frame code');
    assert.deepEqual(
      { frame: tag.frame, domid: tag.domid, connector: tag.connector, barsOk: tag.barsOk },
      { frame: 600, domid: g.domid, connector: 0, barsOk: true },
    );

    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after destroy');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await w.close();
  }
});

void test('two guests, four connectors at once, each paced by its own vblank, independent', async () => {
  const w = await simWorld();
  try {
    const t0 = process.hrtime.bigint();
    const a = await w.host.createDomain({
      vdispl: ['connectors=a0:320x240;a1:256x192'],
      frontend: { kind: 'display', formats: ['XRGB8888', 'RGB565'] },
      verbose: true,
    });
    const b = await w.host.createDomain({
      vdispl: ['connectors=b0:320x240;b1:200x150'],
      frontend: { kind: 'display', formats: ['YUYV', 'ARGB1555'], frames: 150 },
      verbose: true,
    });
    await waitConnected(a);
    await waitConnected(b);
    // Guest A goes away (destroyed with its buffers mapped) while B is mid-animation.
    for (const g of [a, b]) {
      for (const conn of [0, 1])
        await g.waitFor((r) => r.kind === 'frame' && r.conn === conn && r.frame >= 10, { timeoutMs: 30_000 });
    }
    // Snapshots while both run carry each guest's own tags.
    for (const s of w.backend.status()) {
      for (const c of s.connectors) {
        const f = w.headless.output(c.output)!.currentFrame()!;
        const tag = decodeFrameRgba(f.rgba, f.width, f.height);
        assert.ok(tag, `${c.output} shows a decodable frame`);
        assert.deepEqual([tag.domid, tag.connector, tag.barsOk], [s.domid, c.index, true], c.output);
      }
    }
    await w.host.destroyDomain(a.domid);
    await b.waitFor((r) => r.kind === 'stopped', { timeoutMs: 60_000 });
    const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const conn of [0, 1]) {
      const f = frames(b, 0, conn);
      assert.equal(f.length, 150, `guest B connector ${conn}: all frames`);
      assert.ok(f.every((r) => r.flip === 'event' && r.status === 0));
    }
    assert.deepEqual(troubles(b), [], 'guest B saw nothing wrong while A came and went');
    assert.deepEqual(
      troubles(a).filter((r) => r.kind !== 'frame'),
      [],
    );
    // Paced by vblank: never more flips shown on an output than vblanks passed (60 Hz).
    const bFrames = frames(b, 0, 0).length;
    assert.ok(bFrames <= elapsedS * 60 + 2, `${bFrames} frames in ${elapsedS.toFixed(2)} s`);
    await w.host.destroyDomain(b.domid);
    await assertClean(w, 'after both guests');
  } finally {
    await w.close();
  }
});

void test('be-alloc and PRIME-style (zero geometry) guests animate with every event', async () => {
  const w = await simWorld();
  try {
    const be = await w.host.createDomain({
      vdispl: ['be-alloc=1,connectors=ba:320x200'],
      frontend: { kind: 'display', frames: 60 },
      verbose: true,
    });
    const prime = await w.host.createDomain({
      vdispl: ['connectors=pr:300x200'],
      frontend: { kind: 'display', frames: 60, prime: true, formats: ['RGB888'] },
      verbose: true,
    });
    const connected = await waitConnected(be);
    assert.ok(connected.kind === 'connected' && connected.beAlloc);
    await be.waitFor((r) => r.kind === 'stopped', { timeoutMs: 60_000 });
    await prime.waitFor((r) => r.kind === 'stopped', { timeoutMs: 60_000 });
    for (const g of [be, prime]) {
      assert.equal(frames(g).length, 60);
      assert.deepEqual(troubles(g), []);
    }
    assert.equal(w.platform.resources().grantedBuffers, 0, 'be-alloc buffers released when the guest released them');
    await w.host.destroyDomain(be.domid);
    await w.host.destroyDomain(prime.domid);
    await assertClean(w, 'after be-alloc and PRIME guests');
  } finally {
    await w.close();
  }
});

void test('errno paths seen by a guest: duplicates, unknown cookies, sizes, quotas', async () => {
  const w = await simWorld({ quotas: parseQuotas('buffers=3,framebuffers=2,buffer-pages=64') });
  try {
    const g = await w.host.createDomain({
      vdispl: ['connectors=id0:320x240'],
      frontend: { kind: 'idle' },
      verbose: false,
    });
    await waitConnected(g);
    const steps: ScriptStep[] = [
      { op: 'dumb-create', name: 'a', width: 64, height: 64, bpp: 32, cookie: 0x1000n },
      { op: 'dumb-create', name: 'dup', width: 64, height: 64, bpp: 32, cookie: 0x1000n },
      { op: 'dumb-create', name: 'huge', width: 4096, height: 64, bpp: 32 },
      { op: 'add-fb', name: 'f1', buffer: 'a', width: 64, height: 64, format: 'XRGB8888', cookie: 0x2000n },
      { op: 'add-fb', name: 'fdup', buffer: 'a', width: 64, height: 64, format: 'XRGB8888', cookie: 0x2000n },
      { op: 'add-fb', name: 'tall', buffer: 'a', width: 64, height: 65, format: 'XRGB8888' },
      { op: 'add-fb', name: 'f2', buffer: 'a', width: 32, height: 32, format: 'RGB565' },
      { op: 'add-fb', name: 'f3', buffer: 'a', width: 32, height: 32, format: 'RGB565' },
      { op: 'flip', conn: 0, fb: 'f1' },
      { op: 'enable', conn: 0, fb: 'f1', x: 300 },
      { op: 'dumb-create', name: 'b', width: 8, height: 8, bpp: 32 },
      { op: 'dumb-create', name: 'c', width: 8, height: 8, bpp: 32 },
      { op: 'dumb-create', name: 'd', width: 8, height: 8, bpp: 32 },
      { op: 'gem-close', buffer: 'a' },
      { op: 'dumb-create', name: 'e', width: 8, height: 8, bpp: 32 },
    ];
    const r = await g.run(steps);
    assert.deepEqual(
      r.map((x) => x.status),
      [0, E.EEXIST, E.E2BIG, 0, E.EEXIST, E.EINVAL, 0, E.ENOMEM, E.EINVAL, E.EINVAL, 0, 0, E.ENOMEM, 0, 0],
    );
    await w.host.destroyDomain(g.domid);
    await assertClean(w, 'after the errno script');
  } finally {
    await w.close();
  }
});
