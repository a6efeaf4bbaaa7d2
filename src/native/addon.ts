// Typed access to the native addon. Everything here is mechanism; callers own the policy.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DrmConstructors } from './drm-device.js';
import type { FdFunctions, NativeResources } from './fd.js';
import type { XenDeviceConstructors } from './xen-devices.js';

/** A range of memory mapped into this process. `unmap()` detaches `buffer` first and is idempotent. */
export interface NativeMapping {
  readonly buffer: ArrayBuffer;
  readonly length: number;
  unmap(): void;
}

export interface DisplifStructLayout {
  readonly size: number;
  readonly fields: Readonly<Record<string, number>>;
}

/** What the compiler saw in the installed kernel/Xen/libdrm headers (native/src/abi.cc). */
export interface KernelAbi {
  readonly ioctls: Readonly<Record<string, number>>;
  readonly layouts: Readonly<Record<string, DisplifStructLayout>>;
  readonly constants: Readonly<Record<string, number>>;
}

export interface NativeAddon extends XenDeviceConstructors, DrmConstructors, FdFunctions {
  mapFd(fd: number, offset: number, length: number, writable: boolean): NativeMapping;
  mapAnonymous(length: number): NativeMapping;
  /**
   * Pages `pageOffsets[i]` (in system pages) of `fd`, in that order, as one contiguous range: what
   * gntdev gives for grants of scattered frames. Each page must lie inside the file (RangeError).
   */
  mapFdPages(fd: number, pageOffsets: Uint32Array, writable: boolean): NativeMapping;
  load32Acquire(view: Uint8Array, offset: number): number;
  store32Release(view: Uint8Array, offset: number, value: number): void;
  fullBarrier(): void;
  copyOut(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, length: number): void;
  /**
   * `rows` rows of `rowBytes`, row r from src[srcOffset + r*srcPitch] to dst[dstOffset + r*dstPitch],
   * in one call (native/src/pixel_copy.cc: streaming stores for a frame-sized copy). RangeError for
   * a byte outside either view, a row longer than its pitch, or overlapping regions.
   */
  copyRows(
    dst: Uint8Array,
    dstOffset: number,
    dstPitch: number,
    src: Uint8Array,
    srcOffset: number,
    srcPitch: number,
    rowBytes: number,
    rows: number,
  ): void;
  /** io/ring.h's backend steps whole (native/src/ring_step.cc; the state layout is src/displif/ring-step.ts). */
  ringConsume(page: Uint8Array, state: Uint32Array, out: Uint8Array, max: number): number;
  ringPublish(page: Uint8Array, state: Uint32Array): boolean;
  /** The event page's producer step (native/src/event_step.cc): true when the event was written and published. */
  eventPutPgFlip(page: Uint8Array, inProd: number, id: number, fbCookie: bigint): boolean;
  memoryStats(): { mappings: number; mappedBytes: number };
  pageSize(): number;
  displifLayout(): Record<string, DisplifStructLayout> & {
    constants: Readonly<Record<string, number>>;
    strings: Readonly<Record<string, string>>;
  };
  kernelAbi(): KernelAbi;
  /** Live gntdev/gntalloc/evtchn/DRM/poller resources handed out by the addon. */
  nativeResources(): NativeResources;
  /** Further mechanism registers itself in native/src. */
  readonly [name: string]: unknown;
}

/** build/Release/<file> of the package, from src/ (tsx) or dist/src/ (compiled): walk up to the root. */
export function findBuilt(file: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', file);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function findAddon(): string {
  const found = findBuilt('vdispl_native.node');
  if (found) return found;
  throw new Error(
    'vdispld native addon not built (build/Release/vdispl_native.node missing): run `npm ci` or `npx node-gyp rebuild` ' +
      '(needs g++, pkg-config, libdrm-dev, libxen-dev and linux-libc-dev)',
  );
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(findAddon()) as NativeAddon;
  }
  return cached;
}
