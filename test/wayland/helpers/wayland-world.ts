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
import { startWeston, type Weston, type WestonOptions } from './weston.js';

export interface WaylandWorld {
  host: SimHost;
  platform: SimPlatform;
  weston: Weston;
  wayland: WaylandBackend;
  headless: HeadlessBackend;
  backend: DisplayBackend;
  close(): Promise<void>;
}

function testLogger(): Logger {
  return process.env.VDISPLD_TEST_LOG ? createLogger({ level: 'debug', name: 'test-wayland' }) : silentLogger();
}

export async function waylandWorld(opts: WestonOptions & { connectorMap?: ReadonlyMap<string, string>; primary?: 'wayland' | 'headless' } = {}): Promise<WaylandWorld> {
  const weston = await startWeston(opts);
  const host = await SimHost.start();
  const platform = await host.platform();
  const xs = await host.xenstore(0);
  const wayland = WaylandBackend.open({
    display: `${weston.runtimeDir}/${weston.socket}`,
    log: testLogger(),
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
  return {
    host,
    platform,
    weston,
    wayland,
    headless,
    backend,
    close: async () => {
      await backend.close();
      outputs.close();
      await wayland.close();
      await headless.close();
      await host.close();
      await weston.close();
    },
  };
}
