// The Wayland client module (native/src/wayland, built as vdispl_wayland.node): libwayland-client
// with xdg-shell, wl_shm pools, frame callbacks, dma-buf buffers (zwp_linux_dmabuf_v1) and
// presentation feedback (wp_presentation). Mechanism only; src/drm/wayland is the policy.
// It is a module of its own, loaded on first use, so that a dom0 without libwayland-client runs
// every other output.
import { createRequire } from 'node:module';
import { findBuilt } from './addon.js';

/** What the compositor said, in order, as dispatch() returns it. */
export type WaylandEvent =
  /** The window's first (or a new) xdg_surface configure, already acknowledged. */
  | { readonly type: 'configure'; readonly window: number; readonly value: number }
  /** The frame callback: the compositor took the last commit and wants the next frame. value: its time in ms. */
  | { readonly type: 'frame'; readonly window: number; readonly value: number }
  /** The compositor let go of buffer `value` (0 or 1: the shm halves; 2 and up: a dma-buf buffer). */
  | { readonly type: 'release'; readonly window: number; readonly value: number }
  /** The compositor made dma-buf buffer `value`: commit() may show it. */
  | { readonly type: 'dmabuf-created'; readonly window: number; readonly value: number }
  /** The compositor refused dma-buf buffer `value` (zwp_linux_buffer_params_v1.failed). */
  | { readonly type: 'dmabuf-failed'; readonly window: number; readonly value: number }
  /**
   * wp_presentation: the last commit turned to light at `timeNs` on the presentation clock;
   * value: the output's refresh period in ns (0 unknown).
   */
  | { readonly type: 'presented'; readonly window: number; readonly value: number; readonly timeNs: bigint }
  /** wp_presentation: a commit was never shown (replaced, or its surface not on any output). */
  | { readonly type: 'discarded'; readonly window: number; readonly value: number }
  /** The seat's keyboard focus came to the window, or left it. */
  | { readonly type: 'keyboard-enter' | 'keyboard-leave'; readonly window: number; readonly value: number }
  /** value: the evdev key code; x: 1 pressed, 0 released. */
  | { readonly type: 'key'; readonly window: number; readonly value: number; readonly x: number; readonly y: number }
  /** The pointer entered the window, or moved on it: x, y in surface coordinates. */
  | {
      readonly type: 'pointer-enter' | 'motion';
      readonly window: number;
      readonly value: number;
      readonly x: number;
      readonly y: number;
    }
  | { readonly type: 'pointer-leave'; readonly window: number; readonly value: number }
  /** value: the evdev button code (BTN_LEFT ...); x: 1 pressed, 0 released. */
  | { readonly type: 'button'; readonly window: number; readonly value: number; readonly x: number; readonly y: number }
  /** x: vertical wheel steps, positive towards the user (wl_pointer.axis_discrete). */
  | { readonly type: 'wheel'; readonly window: number; readonly value: number; readonly x: number; readonly y: number }
  /** The user asked the window to close. */
  | { readonly type: 'close'; readonly window: number; readonly value: number }
  /** The connection is dead; value: errno. */
  | { readonly type: 'lost'; readonly window: number; readonly value: number };

export interface WaylandOutputInfo {
  /** wl_output v4's name, else xdg-output's (v2 and up); '' when the compositor gives neither. */
  readonly name: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  readonly refreshMilliHz: number;
}

export interface NativeWaylandClient {
  fd(): number;
  outputs(): WaylandOutputInfo[];
  /** wl_shm formats (0 ARGB8888, 1 XRGB8888, else the DRM FourCC). */
  shmFormats(): number[];
  /** null: no zwp_linux_dmabuf_v1; else the [fourcc, modifier] pairs it takes. */
  dmabufFormats(): [number, bigint][] | null;
  /** The clock of wp_presentation's timestamps (CLOCK_MONOTONIC is 1); -1 when it is not offered. */
  presentationClock(): number;
  dispatch(): WaylandEvent[];
  /** 0 sent, 1 socket full (poll writable), negative errno: dead. */
  flush(): number;
  /** outputName '': a window; else full screen on that wl_output (ENODEV when absent). */
  createWindow(
    title: string,
    appId: string,
    width: number,
    height: number,
    stride: number,
    shmFormat: number,
    outputName: string,
  ): { id: number; buffers: [ArrayBuffer, ArrayBuffer] };
  /** A one-plane dma-buf buffer for the window, answered by dmabuf-created or dmabuf-failed; returns its id. */
  createDmabuf(
    window: number,
    fd: number,
    width: number,
    height: number,
    fourcc: number,
    offset: number,
    stride: number,
    modifier: bigint,
  ): number;
  destroyBuffer(window: number, buffer: number): void;
  /** buffer 0 or 1: the shm halves; else a created dma-buf buffer. */
  commit(window: number, buffer: number): void;
  setTitle(window: number, title: string): void;
  destroyWindow(window: number): void;
  close(): void;
}

type WaylandClientConstructor = new (displayName: string) => NativeWaylandClient;

/** Live objects of the module, for leak checks: all zero until it is loaded. */
export interface WaylandResources {
  readonly connections: number;
  readonly windows: number;
  readonly shmPools: number;
  readonly dmabufBuffers: number;
  /** zxdg_output_v1 objects, one per compositor output while connected (where it offers xdg-output). */
  readonly xdgOutputs: number;
}

interface WaylandModule {
  readonly WaylandClient: WaylandClientConstructor;
  resources(): WaylandResources;
}

/** Why the module cannot be used, when it was not built (the build lacked the Wayland packages). */
const WAYLAND_NOT_BUILT =
  'this vdispld was built without Wayland support (install libwayland-dev and wayland-protocols, then rebuild: npm ci)';

let loaded: WaylandModule | undefined;

/**
 * The module itself is missing (EOPNOTSUPP: built without the Wayland packages) or cannot load here
 * (ENOENT: libwayland-client absent or broken). Its own class, so that nobody reports it as a
 * compositor that cannot be reached: the fix is a package, not a socket.
 */
export class WaylandModuleError extends Error {
  constructor(
    message: string,
    /** Positive errno (this layer is below the errno table: the numbers are written out). */
    readonly errno: 95 | 2,
  ) {
    super(message);
    this.name = 'WaylandModuleError';
  }
}

/**
 * The module, loaded on first use. Throws WaylandModuleError: EOPNOTSUPP when it was not built,
 * ENOENT with the loader's words when it was built but cannot load here (no libwayland-client0).
 */
function waylandModule(): WaylandModule {
  if (loaded) return loaded;
  const path = findBuilt('vdispl_wayland.node');
  if (!path) throw new WaylandModuleError(WAYLAND_NOT_BUILT, 95);
  try {
    loaded = createRequire(import.meta.url)(path) as WaylandModule;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new WaylandModuleError(`the Wayland output cannot load ${path}: ${why} (install libwayland-client0)`, 2);
  }
  return loaded;
}

/** The client class; throws (with errno) when the Wayland module is missing or cannot load. */
export function waylandClientClass(): WaylandClientConstructor {
  return waylandModule().WaylandClient;
}

export function waylandResources(): WaylandResources {
  return loaded ? loaded.resources() : { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 };
}
