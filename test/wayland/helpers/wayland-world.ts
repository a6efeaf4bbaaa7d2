// The backend serving simulated guests with the Wayland output as its primary backend, against a
// private Weston.
import { DisplayBackend } from '../../../src/backend/backend.js';
import { OutputMap } from '../../../src/backend/output-map.js';
import { DEFAULT_QUOTAS } from '../../../src/backend/quotas.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import { WaylandBackend } from '../../../src/drm/wayland/wayland-backend.js';
import { SimHost } from '../../../src/sim/host.js';
import type { SimPlatform } from '../../../src/sim/platform.js';
import { createLogger, silentLogger, type Logger } from '../../../src/util/log.js';
import { drawRegion } from '../../../src/drm/headless/pixel-convert.js';
import { formatByName } from '../../../src/displif/formats.js';
import { drawFrame } from '../../../src/sim/frontend/pattern.js';
import type { ScriptStep } from '../../../src/sim/frontend/protocol.js';
import { waitFor } from '../../backend/helpers/test-frontend.js';
import { readdirSync } from 'node:fs';
import { waylandResources } from '../../../src/native/wayland.js';
import { InputRouter } from '../../../src/input/router.js';
import { VkbdBackend } from '../../../src/backend/vkbd-backend.js';
import { locate, startWeston, type Weston, type WestonOptions } from './weston.js';

export interface WaylandWorld {
  host: SimHost;
  platform: SimPlatform;
  weston: Weston;
  wayland: WaylandBackend;
  headless: HeadlessBackend;
  backend: DisplayBackend;
  /** With `input`: the router the windows and the vkbd backend share, as in the daemon. */
  router?: InputRouter;
  close(): Promise<void>;
}

function testLogger(): Logger {
  return process.env.VDISPLD_TEST_LOG ? createLogger({ level: 'debug', name: 'test-wayland' }) : silentLogger();
}

export async function waylandWorld(
  opts: WestonOptions & {
    connectorMap?: ReadonlyMap<string, string>;
    primary?: 'wayland' | 'headless';
    /** The simulated kernel's dma-buf export (default none, as stock Debian kernels). */
    dmabuf?: 'none' | 'contiguous';
    /** The Wayland backend's logger (default: silent unless VDISPLD_TEST_LOG). */
    log?: Logger;
    /** Windows' keyboard and pointer to the guests' vkbds (a router and the vkbd backend). */
    input?: boolean;
  } = {},
): Promise<WaylandWorld> {
  const weston = await startWeston(opts);
  const host = await SimHost.start();
  const platform = await host.platform(opts.dmabuf ? { dmabuf: opts.dmabuf } : {});
  const xs = await host.xenstore(0);
  const wayland = WaylandBackend.open({
    display: `${weston.runtimeDir}/${weston.socket}`,
    log: opts.log ?? testLogger(),
    reconnectMs: 200,
    guestName: (domid) => xs.read(`/local/domain/${domid}/name`).catch(() => undefined),
  });
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({
    backends: [wayland, headless],
    onDemand: (opts.primary ?? 'wayland') === 'wayland' ? wayland : headless,
    windows: wayland,
    ...(opts.connectorMap ? { connectorMap: opts.connectorMap } : {}),
  });
  const backend = await DisplayBackend.start({ xs, platform, outputs, log: testLogger(), quotas: DEFAULT_QUOTAS });
  const router = opts.input ? new InputRouter() : undefined;
  wayland.setInput(router);
  const vkbd = router ? await VkbdBackend.start({ xs, platform, router, log: testLogger(), outputs }) : undefined;
  return {
    host,
    platform,
    weston,
    wayland,
    headless,
    backend,
    ...(router ? { router } : {}),
    close: async () => {
      await vkbd?.close();
      await backend.close();
      outputs.close();
      await wayland.close();
      await headless.close();
      await host.close();
      await weston.close();
    },
  };
}

/** The picture the guest's pattern makes for `frame`, as RGBA (what a correct window shows). */
export function expected(
  width: number,
  height: number,
  format: string,
  frame: number,
  domid: number,
  connector: number,
): { width: number; height: number; rgba: Uint8Array } {
  const fmt = formatByName(format)!;
  const pitch = width * fmt.cpp;
  const bytes = new Uint8Array(pitch * height);
  drawFrame({ bytes, offset: 0, pitch, width, height, format: fmt }, { frame, domid, connector });
  const rgba = new Uint8Array(width * height * 4);
  drawRegion({ src: bytes, offset: 0, pitch, width, height, fourcc: fmt.fourcc }, { rgba, width, height, x: 0, y: 0 });
  return { width, height, rgba };
}

export function script(conn: number, width: number, height: number, format: string, frames: number): ScriptStep[] {
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

/** Waits until `picture` is on the compositor's screen pixel for pixel; returns where. */
export async function onScreen(
  w: WaylandWorld,
  picture: { width: number; height: number; rgba: Uint8Array },
  what: string,
): Promise<{ x: number; y: number }> {
  return waitFor(what, async () => locate(await w.weston.screenshot(), picture), 30_000);
}

/** The Wayland module's live objects. */
export function wayland(): Record<string, number> {
  return { ...waylandResources() };
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
