// Shared fixtures for the KMS output tests: a backend over the fake card, and guest framebuffers
// whose pixels encode their coordinates so the screen can be checked pixel by pixel.
import type { FramebufferDesc, FlipResult } from '../../src/drm/output.js';
import { KmsBackend, type KmsBackendOptions } from '../../src/drm/kms/kms-backend.js';
import type { NativeFdPoller } from '../../src/native/fd.js';
import type { ExportedDmaBuf } from '../../src/xen/platform.js';
import { domId } from '../../src/util/ids.js';
import { FakeDrm, type FakeCardOptions } from './fake-drm.js';

export const XR24 = 0x34325258;

export interface Rig {
  readonly dev: FakeDrm;
  readonly backend: KmsBackend;
  readonly logs: string[];
  /** A vblank: completes flips and delivers their events as the poller would. */
  vblank(): void;
}

export function rig(card: FakeCardOptions, opts: Partial<KmsBackendOptions> = {}): Rig {
  const dev = new FakeDrm(card);
  const logs: string[] = [];
  const sink = (...a: unknown[]): void => {
    logs.push(
      a
        .map((x) => (typeof x === 'string' ? x : ''))
        .join(' ')
        .trim(),
    );
  };
  const log = { info: sink, warn: sink, error: sink, debug() {}, trace() {} } as never;
  const poller: NativeFdPoller = { start() {}, stop() {}, ref() {}, unref() {}, close() {} };
  const backend = KmsBackend.open({
    log,
    cardDeps: { open: () => dev, list: () => ['card0'], exists: () => true },
    makePoller: () => poller,
    closeFd: (fd) => dev.dmabufs.delete(fd),
    // The fake card's connectors as sysfs would show them; watched only where a test asks.
    connectorStatuses: () => Promise.resolve(dev.statuses()),
    hotplugPollMs: 0,
    ...opts,
  });
  return {
    dev,
    backend,
    logs,
    vblank() {
      dev.vblank();
      backend.onReadable(0);
    },
  };
}

let nextFbId = 1;
let nextFd = 300;

export interface GuestFb {
  readonly desc: FramebufferDesc;
  readonly exports: { closed: number; made: number; holds: number };
  /** The guest's pixel (x, y) as [B, G, R]. */
  px(x: number, y: number): number[];
}

/**
 * An XRGB8888 guest framebuffer of width x height with the frontend's pitch (width * 4, no
 * alignment) at `offset`, pixels = [x, y, tag]; exportable as a dma-buf unless `exportable` is false.
 */
export function guestFb(
  dev: FakeDrm,
  width: number,
  height: number,
  opts: { offset?: number; tag?: number; exportable?: boolean } = {},
): GuestFb {
  const offset = opts.offset ?? 0;
  const tag = opts.tag ?? 0x80;
  const pitch = width * 4;
  const size = Math.ceil((offset + pitch * height) / 4096) * 4096;
  const bytes = new Uint8Array(size);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) bytes.set([x & 0xff, y & 0xff, tag, 0], offset + y * pitch + x * 4);
  }
  const exports = { closed: 0, made: 0, holds: 0 };
  const exportDmaBuf = (): Promise<ExportedDmaBuf> => {
    const fd = nextFd++;
    dev.dmabufs.set(fd, bytes);
    exports.made++;
    return Promise.resolve({
      fd,
      size,
      close: () => {
        exports.closed++;
        dev.dmabufs.delete(fd);
        return Promise.resolve();
      },
    });
  };
  const desc: FramebufferDesc = {
    id: nextFbId++,
    width,
    height,
    fourcc: XR24,
    pitch,
    offset,
    buffer: {
      domid: domId(3),
      size,
      bytes,
      // Counts the holds an output takes on the pages (a released framebuffer still on screen).
      retain: () => {
        exports.holds++;
        let held = true;
        return () => {
          if (held) exports.holds--;
          held = false;
        };
      },
      ...(opts.exportable === false ? {} : { exportDmaBuf }),
    },
  };
  return { desc, exports, px: (x, y) => [x & 0xff, y & 0xff, tag] };
}

/** Collects flip results. */
export function flipper(): { results: FlipResult[]; done: (r: FlipResult) => void } {
  const results: FlipResult[] = [];
  return { results, done: (r) => results.push(r) };
}

export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
