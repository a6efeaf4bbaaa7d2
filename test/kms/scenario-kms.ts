// The KMS output on a real DRM driver, for the e2e machine's dom0 (bochs-drm from QEMU's standard
// VGA): no Xen needed, the guest frames come from memory this script draws. Not collected by
// `npm test` (no .test.ts suffix); the e2e harness runs it in dom0 and screendumps at each step:
//
//   node --import tsx test/kms/scenario-kms.ts [--card auto] [--connector Virtual-1]
//        [--handshake DIR | --pause-ms 1500] [--fake]
//
// At each step the script prints one JSON line {"step", "ok", "expect": {mode, samples: [{x, y,
// rgb}]}, ...} and, with --handshake DIR, writes it to DIR/<step>.json and waits (at most 30 s)
// for DIR/<step>.ack before going on — the moment to take the screendump and compare the samples.
// Steps: exact (guest screen = preferred mode), flips (120 flips, all completed by DRM events, rate
// reported), centred (a guest screen smaller than every mode), master (another process takes DRM
// master and shows blue; our flips are dropped; it exits; the guest picture comes back), close
// (the console's picture is restored). Exit status 0 when every step held. --fake runs the same
// steps against the test suite's fake card (a smoke test of the script itself).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KmsBackend } from '../../src/drm/kms/kms-backend.js';
import { centredPlacement } from '../../src/drm/kms/placement.js';
import type { FlipResult, FramebufferDesc, Output } from '../../src/drm/output.js';
import { domId } from '../../src/util/ids.js';

const { values: args } = parseArgs({
  options: {
    card: { type: 'string', default: 'auto' },
    connector: { type: 'string' },
    handshake: { type: 'string' },
    'pause-ms': { type: 'string', default: '1500' },
    fake: { type: 'boolean', default: false },
  },
});

const XR24 = 0x34325258;
const QUAD: [number, number, number][] = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 255],
];
let fbIds = 1;

/** A guest framebuffer: four coloured quadrants, plus a bar at column `bar` (flip steps). */
function guestFrame(width: number, height: number, bar = -1): FramebufferDesc {
  const pitch = width * 4;
  const bytes = new Uint8Array(Math.ceil((pitch * height) / 4096) * 4096);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const q = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1);
      const [r, g, b] = x >= bar && x < bar + 16 ? [0, 0, 0] : QUAD[q]!;
      bytes.set([b, g, r, 0], y * pitch + x * 4);
    }
  }
  return {
    id: fbIds++,
    width,
    height,
    fourcc: XR24,
    pitch,
    offset: 0,
    buffer: { domid: domId(1), size: bytes.length, bytes },
  };
}

function samplesFor(width: number, height: number, modeW: number, modeH: number) {
  const p = centredPlacement({ x: 0, y: 0, width, height }, modeW, modeH)!;
  const at = (fx: number, fy: number, rgb: number[]) => ({
    x: p.dst.x + Math.floor(fx * width),
    y: p.dst.y + Math.floor(fy * height),
    rgb,
  });
  const s = [at(0.25, 0.25, QUAD[0]!), at(0.75, 0.25, QUAD[1]!), at(0.25, 0.75, QUAD[2]!), at(0.75, 0.75, QUAD[3]!)];
  if (p.dst.x > 0) s.push({ x: Math.floor(p.dst.x / 2), y: Math.floor(modeH / 2), rgb: [0, 0, 0] });
  return s;
}

const results: { step: string; ok: boolean }[] = [];

async function step(name: string, ok: boolean, detail: Record<string, unknown>): Promise<void> {
  const line = JSON.stringify({ step: name, ok, ...detail }, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
  console.log(line);
  results.push({ step: name, ok });
  if (args.handshake) {
    mkdirSync(args.handshake, { recursive: true });
    writeFileSync(join(args.handshake, `${name}.json`), line + '\n');
    const ack = join(args.handshake, `${name}.ack`);
    const until = Date.now() + 30_000;
    while (!existsSync(ack) && Date.now() < until) await sleep(100);
  } else {
    await sleep(Number(args['pause-ms']));
  }
}

type Sample = { x: number; y: number; rgb: number[] };

/** --fake only: the fake card can be read back, so the script checks its own expectations. */
function onScreen(fakeDev: import('./fake-drm.js').FakeDrm | undefined, samples: Sample[]): boolean {
  if (!fakeDev) return true;
  return samples.every((p) => {
    const bgr = fakeDev.pixel(40, p.x, p.y) ?? [0, 0, 0];
    return bgr[2] === p.rgb[0] && bgr[1] === p.rgb[1] && bgr[0] === p.rgb[2];
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function flipOnce(out: Output, fb: FramebufferDesc, timeoutMs = 1000): Promise<FlipResult> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve({ shown: false, reason: 'no flip event within 1 s' }), timeoutMs);
    out.flip(fb, (r) => {
      clearTimeout(t);
      resolve(r);
    });
  });
}

/** Another process takes DRM master and lights the CRTC blue for `holdMs`, then exits. */
/**
 * Another DRM client that takes master and shows blue for `holdMs`. It starts, opens the card and
 * says "ready" before anything is timed: node's start-up (seconds under emulation) must not eat the
 * hold-off the backend grants it. It takes master only when told to go.
 */
function anotherMaster(
  cardPath: string,
  holdMs: number,
): { ready: Promise<void>; go(): void; exited: Promise<number | null> } {
  const addon = new URL('../../build/Release/vdispl_native.node', import.meta.url).pathname;
  const js = `
    const n = require(${JSON.stringify(addon)});
    const d = new n.DrmDevice(${JSON.stringify(cardPath)});
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      d.setMaster();
      const r = d.resources();
      const c = r.connectors.find((k) => k.connection === 'connected' && k.modes.length);
      const m = c.modes.find((x) => x.type & 8) || c.modes[0];
      const crtc = r.encoders.find((e) => e.id === c.encoderId)?.crtcId || r.crtcs[0].id;
      const b = d.createDumb(m.hdisplay, m.vdisplay, 32);
      const map = d.mapDumb(b.handle, b.size);
      new Uint32Array(map.buffer).fill(0x000000ff);
      const fb = d.addFb2(m.hdisplay, m.vdisplay, 0x34325258, [b.handle], [b.pitch], [0]);
      d.setCrtc(crtc, fb, 0, 0, [c.id], m);
      setTimeout(() => { d.close(); process.exit(0); }, ${holdMs});
    });`;
  const child = spawn(process.execPath, ['-e', js], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`DRM master holder exited (${code}) before it was ready`)));
  });
  return { ready, go: () => child.stdin.end('go\n'), exited };
}

async function main(): Promise<void> {
  let fakeDev: import('./fake-drm.js').FakeDrm | undefined;
  let backend: KmsBackend;
  if (args.fake) {
    const { FakeDrm, mode } = await import('./fake-drm.js');
    const dev = new FakeDrm({
      connectors: [{ name: 'Virtual-1', modes: [mode(1024, 768, 60, true), mode(800, 600)] }],
      bootFb: 9,
    });
    fakeDev = dev;
    backend = KmsBackend.open({
      cardDeps: { open: () => dev, list: () => ['card0'], exists: () => true },
      makePoller: (_fd, cb) => {
        const timer = setInterval(() => dev.vblank() && cb(0, 1), 16);
        return { start() {}, stop() {}, ref() {}, unref() {}, close: () => clearInterval(timer) };
      },
      masterRetryMs: 100,
    });
  } else {
    backend = KmsBackend.open({ card: args.card!, masterRetryMs: 200 });
  }
  try {
    await scenario(backend, fakeDev);
  } finally {
    await backend.close();
  }
}

async function scenario(backend: KmsBackend, fakeDev: import('./fake-drm.js').FakeDrm | undefined): Promise<void> {
  const out = (args.connector ? backend.output(args.connector) : backend.outputs()[0]) as Output | undefined;
  if (!out)
    throw new Error(
      `no output ${args.connector ?? ''} on ${backend.card.path}: ${backend
        .outputs()
        .map((o) => o.name)
        .join(', ')}`,
    );
  const preferred = out.modes.find((m) => m.preferred) ?? out.modes[0]!;
  const W = preferred.width;
  const H = preferred.height;
  console.log(
    JSON.stringify({
      card: backend.card.path,
      driver: backend.card.driver.name,
      output: out.name,
      modesetting: backend.modesetting,
      modes: out.modes.length,
    }),
  );

  // 1. The guest screen is exactly the preferred mode.
  const a = guestFrame(W, H);
  await out.setConfig({ fb: a, x: 0, y: 0, width: W, height: H });
  const exact = samplesFor(W, H, W, H);
  await step('exact', onScreen(fakeDev, exact), { path: out.pathOf(a), expect: { mode: `${W}x${H}`, samples: exact } });

  // 2. Flips, each completed by its DRM event.
  const frames = [guestFrame(W, H, 0), guestFrame(W, H, 64)];
  const t0 = process.hrtime.bigint();
  let shown = 0;
  const N = 120;
  for (let i = 0; i < N; i++) if ((await flipOnce(out, frames[i % 2]!)).shown) shown++;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await step('flips', shown === N, {
    shown,
    flips: N,
    hz: Number((N / seconds).toFixed(1)),
    path: out.pathOf(frames[0]!),
  });

  // 3. A guest screen smaller than every mode: centred on the preferred one.
  const gw = Math.floor((W * 3) / 5) | 1;
  const gh = Math.floor((H * 3) / 5) | 1;
  const c = guestFrame(gw, gh);
  await out.setConfig({ fb: c, x: 0, y: 0, width: gw, height: gh });
  const centred = samplesFor(gw, gh, W, H);
  await step('centred', onScreen(fakeDev, centred), {
    guest: `${gw}x${gh}`,
    path: out.pathOf(c),
    expect: { mode: `${W}x${H}`, samples: centred },
  });

  // 4. Another process takes DRM master (and shows blue); our flips are dropped, not failed; when it
  //    exits, the guest picture comes back.
  let holder: Promise<number | null>;
  if (fakeDev) {
    backend.yieldMaster(2500);
    fakeDev.stealMaster();
    holder = Promise.resolve(0);
  } else {
    const h = anotherMaster(backend.card.path, 2000);
    await h.ready;
    backend.yieldMaster(2500);
    h.go();
    holder = h.exited;
  }
  await sleep(1000);
  const during = await flipOnce(out, c);
  await step('master-taken', !during.shown, {
    flip: during,
    expect: { samples: [{ x: Math.floor(W / 2), y: Math.floor(H / 2), rgb: [0, 0, 255] }] },
  });
  const code = await holder;
  fakeDev?.giveBackMaster();
  const until = Date.now() + 10_000;
  while (!backend.isMaster && Date.now() < until) await sleep(100);
  await sleep(300);
  const after = await flipOnce(out, c);
  await step('master-back', code === 0 && backend.isMaster && after.shown && onScreen(fakeDev, centred), {
    holderExit: code,
    flip: after,
    expect: { mode: `${W}x${H}`, samples: centred },
  });

  // 5. Close: the console's picture is restored.
  out.release(a);
  out.release(c);
  for (const f of frames) out.release(f);
  await backend.close();
  await step('close', fakeDev ? fakeDev.crtcState(40).fbId === 9 : true, {
    expect: 'the console as before the scenario',
  });
  const failed = results.filter((r) => !r.ok).map((r) => r.step);
  console.log(JSON.stringify({ done: true, failed }));
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(`scenario-kms: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
