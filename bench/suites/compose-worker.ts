// The CPU composition of a layout measured in a process of its own (so its CPU clock counts nothing
// else): N guests on one 1920x1080 output (2: side by side at 960x1080; 4: a 2x2 grid at 960x540),
// every guest flipping every frame, so each frame redraws every rectangle. The physical output is a
// stand-in that shows each frame at once (no vblank wait, no pixels read): what is measured is the
// slots, the latching and the composition into our buffer.
//   frame: CPU of this process per composed frame (all N flips, composition, completions);
//   bytes: what the composed output counted as composed per frame.
// Arguments: GUESTS ITERATIONS. Prints one JSON object.
import { ComposedOutput } from '../../src/drm/compose/composed-output.js';
import type { Layout } from '../../src/drm/compose/layout.js';
import type { FlipResult, FramebufferDesc, Output } from '../../src/drm/output.js';
import { domId } from '../../src/util/ids.js';

const W = 1920;
const H = 1080;
const XR24 = 0x34325258;

export interface ComposeWorkerResult {
  readonly guests: number;
  readonly frameCpuUs: number[];
  readonly bytesPerFrame: number;
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

/** Shows every frame at once, on a clock of its own (time 0: the composer composes without waiting). */
function instantOutput(): Output {
  const shown: FlipResult = { shown: true, timestampNs: 0n };
  return {
    name: 'bench0',
    modes: [{ width: W, height: H, refreshMilliHz: 60000, preferred: true }],
    setConfig: () => Promise.resolve(),
    flip: (_fb, done) => setImmediate(done, shown),
    release: () => {},
    currentFrame: () => undefined,
    pathOf: () => ({ path: 'copied' }),
  };
}

let nextId = 1;
function guestFb(width: number, height: number, seed: number): FramebufferDesc {
  const pitch = width * 4;
  const bytes = new Uint8Array(pitch * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + seed) & 0x7f;
  return {
    id: nextId++,
    width,
    height,
    fourcc: XR24,
    pitch,
    offset: 0,
    buffer: { domid: domId(1), size: bytes.length, bytes },
  };
}

async function main(): Promise<void> {
  const guests = Number(process.argv[2] ?? 2);
  const iterations = Number(process.argv[3] ?? 60);
  const cols = 2;
  const rows = guests / cols;
  const w = W / cols;
  const h = H / rows;
  const layout: Layout = {
    entries: Array.from({ length: guests }, (_, i) => ({
      key: `vm${i}/id0`,
      rect: { x: (i % cols) * w, y: Math.floor(i / cols) * h, width: w, height: h },
      scaled: false,
    })),
  };
  const out = await ComposedOutput.open(instantOutput(), layout);
  const slots = layout.entries.map((e) => out.attach(e.key, { width: w, height: h }));
  const fbs = slots.map((_, i) => [guestFb(w, h, i), guestFb(w, h, i + 50)]);
  for (const [i, s] of slots.entries()) await s.setConfig({ fb: fbs[i]![0]!, x: 0, y: 0, width: w, height: h });
  const frame = (k: number): Promise<unknown> =>
    Promise.all(slots.map((s, i) => new Promise((res) => s.flip(fbs[i]![k % 2]!, res))));
  for (let k = 0; k < 4; k++) await frame(k);
  const frameCpuUs: number[] = [];
  const bytes0 = out.stats.bytesComposed;
  for (let k = 0; k < iterations; k++) {
    const t0 = process.cpuUsage();
    await frame(k);
    frameCpuUs.push(cpuUs(t0));
  }
  const bytesPerFrame = (out.stats.bytesComposed - bytes0) / iterations;
  await out.close();
  const result: ComposeWorkerResult = { guests, frameCpuUs, bytesPerFrame };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
