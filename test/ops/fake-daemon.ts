// A daemon's operations view without a daemon: real headless outputs showing framebuffers whose
// pixels a test writes, and device/connector records with counters, behind a DaemonProbe. The
// control socket, status and viewer tests drive their servers with it; the demo tests use the
// real daemon's probe.
import type { BudgetReport } from '../../src/backend/dom0-budget.js';
import type { Frame, FramebufferDesc } from '../../src/drm/output.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import type { HeadlessOutput } from '../../src/drm/headless/headless-output.js';
import { fourcc } from '../../src/displif/formats.js';
import type { DomId } from '../../src/util/ids.js';
import {
  emptyFramebufferCounts,
  type ConnectorCounters,
  type DaemonProbe,
  type DeviceProbe,
  type FramebufferCounts,
  type OutputProbe,
  type ResourceProbe,
} from '../../src/ops/probe.js';

export const XRGB8888 = fourcc('XR24');

export interface FakeScreen {
  readonly output: HeadlessOutput;
  readonly fb: FramebufferDesc;
  /** Fills the framebuffer with a per-pixel colour and flips it (a new frame sequence). */
  draw(colour: (x: number, y: number) => [number, number, number]): Promise<void>;
  readonly stats: ConnectorCounters & { flipsShown: number };
}

let nextFb = 1_000_000;

export class FakeDaemon implements DaemonProbe {
  readonly headless = new HeadlessBackend();
  readonly devs: { domid: number; devId: number; phase: string; screens: FakeScreen[] }[] = [];

  /** A connected device whose connectors each show a width x height framebuffer. */
  async addDevice(domid: number, devId: number, sizes: readonly [number, number][]): Promise<FakeScreen[]> {
    const screens: FakeScreen[] = [];
    for (const [i, [width, height]] of sizes.entries()) {
      const output = this.headless.createOutput({ name: `dom${domid}.${devId}.id${i}`, width, height });
      const bytes = new Uint8Array(width * height * 4);
      const fb: FramebufferDesc = {
        id: ++nextFb,
        width,
        height,
        fourcc: XRGB8888,
        pitch: width * 4,
        offset: 0,
        buffer: { domid: domid as DomId, size: bytes.length, bytes },
      };
      await output.setConfig({ fb, x: 0, y: 0, width, height });
      const stats = {
        requests: 0,
        errors: 0,
        timeouts: 0,
        flipsQueued: 0,
        flipsShown: 0,
        flipsDropped: 0,
        flipLatencyUsSum: 0,
        flipLatencyUsLast: 0,
      };
      screens.push({
        output,
        fb,
        stats,
        draw: async (colour) => {
          for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
              const [r, g, b] = colour(x, y);
              const o = (y * width + x) * 4;
              bytes[o] = b; // XRGB8888 is B, G, R, X in memory
              bytes[o + 1] = g;
              bytes[o + 2] = r;
              bytes[o + 3] = 0;
            }
          }
          await new Promise<void>((resolve) =>
            output.flip(fb, (r) => {
              stats.flipsQueued++;
              if (r.shown) stats.flipsShown++;
              else stats.flipsDropped++;
              resolve();
            }),
          );
        },
      });
    }
    this.devs.push({ domid, devId, phase: 'connected', screens });
    return screens;
  }

  devices(): readonly DeviceProbe[] {
    return this.devs.map((d) => ({
      domid: d.domid,
      devId: d.devId,
      phase: d.phase,
      frontendState: 'Connected',
      error: undefined,
      connectors: d.screens.map((s, index) => ({
        index,
        uniqueId: `id${index}`,
        output: s.output.name,
        resolution: { width: s.fb.width, height: s.fb.height },
        scanout: { width: s.fb.width, height: s.fb.height, x: 0, y: 0 },
        stats: s.stats,
      })),
    }));
  }

  outputs(): readonly OutputProbe[] {
    return this.headless.outputs().map((o) => ({
      name: o.name,
      kind: 'headless' as const,
      width: o.modes[0]?.width,
      height: o.modes[0]?.height,
      refreshMilliHz: o.modes[0]?.refreshMilliHz,
    }));
  }

  frame(name: string): Frame | undefined {
    return this.headless.output(name)?.currentFrame();
  }

  resources(): ResourceProbe {
    return {
      grantMappings: 0,
      mappedPages: 0,
      buffers: this.devs.length,
      framebuffers: this.devs.length,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      dmaBufImports: 0,
    };
  }

  bufferPaths(): FramebufferCounts {
    const n = emptyFramebufferCounts();
    n.guest.mapped = this.devs.reduce((k, d) => k + d.screens.length, 0);
    return n;
  }

  fallbacks(): Record<string, number> {
    return {};
  }

  bytesCopied(): Record<string, number> | undefined {
    return undefined;
  }

  budget(): BudgetReport | undefined {
    return undefined;
  }

  close(): Promise<void> {
    return this.headless.close();
  }
}
