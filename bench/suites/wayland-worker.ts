// The Wayland output's flip path measured in a process of its own (so its CPU clock counts nothing
// else), against a real Weston (headless, pixman): a 1920x1080 XRGB8888 guest framebuffer whose
// bytes are a shared file mapping, flipped into a window; each flip awaited to the compositor's answer (presented feedback).
//   flip:  CPU of this process per flip (copy into the wl_shm buffer, commit, dispatch of the
//          callback); the compositor's own CPU (it reads the buffer to compose) is not in it;
//   paint: the copy alone (paintViewport) for the same bytes, into a shared file mapping as the
//          window's wl_shm buffer is (V8's own 8 MiB arrays copy 3-4x slower on these machines, which
//          made the copy alone look dearer than the whole flip);
//   bytes: what the output counted as copied per frame.
// Arguments: SOURCE_FILE ITERATIONS. Prints one JSON object.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FlipResult, FramebufferDesc } from '../../src/drm/output.js';
import { paintViewport } from '../../src/drm/wayland/shm-paint.js';
import { WaylandBackend } from '../../src/drm/wayland/wayland-backend.js';
import type { WaylandOutput } from '../../src/drm/wayland/wayland-output.js';
import { native } from '../../src/native/addon.js';
import { domId } from '../../src/util/ids.js';
import { silentLogger } from '../../src/util/log.js';
import { startWeston } from '../../test/wayland/helpers/weston.js';

const W = 1920;
const H = 1080;
const PITCH = W * 4;
const FRAME = PITCH * H;
const XR24 = 0x34325258;

export interface WaylandWorkerResult {
  readonly flipCpuUs: number[];
  readonly paintCpuUs: number[];
  readonly bytesPerFrame: number;
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

async function main(): Promise<void> {
  const [source, iterArg] = process.argv.slice(2);
  const iterations = Number(iterArg ?? 60);
  const fd = openSync(source!, 'r');
  const map = native().mapFd(fd, 0, 2 * FRAME, false);
  closeSync(fd);
  const fbs: FramebufferDesc[] = [0, 1].map((k) => {
    const bytes = new Uint8Array(map.buffer, k * FRAME, FRAME);
    return {
      id: k + 1,
      width: W,
      height: H,
      fourcc: XR24,
      pitch: PITCH,
      offset: 0,
      buffer: { domid: domId(1), size: FRAME, bytes },
    };
  });
  const weston = await startWeston({ width: 1920, height: 1080 });
  const backend = WaylandBackend.open({ display: `${weston.runtimeDir}/${weston.socket}`, log: silentLogger() });
  try {
    const out = backend.createOutput({
      name: 'bench',
      width: W,
      height: H,
      connector: { domid: domId(1), label: 'bench' },
    }) as WaylandOutput;
    await out.setConfig({ fb: fbs[0]!, x: 0, y: 0, width: W, height: H });
    const flip = (fb: FramebufferDesc): Promise<FlipResult> => new Promise((resolve) => out.flip(fb, resolve));
    for (let i = 0; i < 5; i++) await flip(fbs[i % 2]!);
    const flipCpuUs: number[] = [];
    const copied0 = out.stats.bytesCopied;
    for (let i = 0; i < iterations; i++) {
      const t = process.cpuUsage();
      const r = await flip(fbs[i % 2]!);
      flipCpuUs.push(cpuUs(t));
      if (!r.shown) throw new Error(`a flip was not shown: ${r.reason}`);
    }
    const bytesPerFrame = (out.stats.bytesCopied - copied0) / iterations;
    const dir = mkdtempSync('/dev/shm/vdispld-bench-paint-');
    const dstFd = openSync(join(dir, 'pool'), 'w+');
    ftruncateSync(dstFd, FRAME);
    const dstMap = native().mapFd(dstFd, 0, FRAME, true);
    closeSync(dstFd);
    rmSync(dir, { recursive: true });
    const dst = { bytes: new Uint8Array(dstMap.buffer), width: W, height: H, stride: PITCH };
    const cfg = { fb: fbs[0]!, x: 0, y: 0, width: W, height: H };
    const paintCpuUs: number[] = [];
    try {
      for (let i = 0; i < iterations; i++) {
        const t = process.cpuUsage();
        paintViewport(cfg, fbs[i % 2]!, dst, false, () => new Uint8Array(0));
        paintCpuUs.push(cpuUs(t));
      }
    } finally {
      dstMap.unmap();
    }
    const result: WaylandWorkerResult = { flipCpuUs, paintCpuUs, bytesPerFrame };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await backend.close();
    map.unmap();
    await weston.close();
  }
}

void main();
