// The Wayland client module (native/src/wayland, built as vdispl_wayland.node): libwayland-client
// with xdg-shell, wl_shm pools and frame callbacks. Mechanism only; src/drm/wayland is the policy.
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
  /** The compositor let go of buffer `value` (0 or 1). */
  | { readonly type: 'release'; readonly window: number; readonly value: number }
  /** The user asked the window to close. */
  | { readonly type: 'close'; readonly window: number; readonly value: number }
  /** The connection is dead; value: errno. */
  | { readonly type: 'lost'; readonly window: number; readonly value: number };

export interface WaylandOutputInfo {
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
  commit(window: number, buffer: 0 | 1): void;
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
}

interface WaylandModule {
  readonly WaylandClient: WaylandClientConstructor;
  resources(): WaylandResources;
}

/** Why the module cannot be used, when it was not built (the build lacked the Wayland packages). */
export const WAYLAND_NOT_BUILT =
  'this vdispld was built without Wayland support (install libwayland-dev and wayland-protocols, then rebuild: npm ci)';

let loaded: WaylandModule | undefined;

/** An error in the addon's own shape (errno and its code), which the layers above map like any other. */
function loadError(message: string, errno: number, code: string): Error {
  return Object.assign(new Error(message), { errno, code });
}

/**
 * The module, loaded on first use. Throws EOPNOTSUPP when it was not built, ENOENT with the loader's
 * words when it was built but cannot load here (no libwayland-client0).
 */
function waylandModule(): WaylandModule {
  if (loaded) return loaded;
  const path = findBuilt('vdispl_wayland.node');
  if (!path) throw loadError(WAYLAND_NOT_BUILT, 95, 'EOPNOTSUPP');
  try {
    loaded = createRequire(import.meta.url)(path) as WaylandModule;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw loadError(`the Wayland output cannot load ${path}: ${why} (install libwayland-client0)`, 2, 'ENOENT');
  }
  return loaded;
}

/** The client class; throws (with errno) when the Wayland module is missing or cannot load. */
export function waylandClientClass(): WaylandClientConstructor {
  return waylandModule().WaylandClient;
}

export function waylandResources(): WaylandResources {
  return loaded ? loaded.resources() : { connections: 0, windows: 0, shmPools: 0 };
}
