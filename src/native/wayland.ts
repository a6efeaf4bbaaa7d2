// Types of the addon's Wayland client (native/src/wayland/wayland_client.cc): libwayland-client
// with xdg-shell, wl_shm pools and frame callbacks. Mechanism only; src/drm/wayland is the policy.
import { native } from './addon.js';

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

/** The constructor, or undefined when the addon was built without libwayland-client. */
export function waylandClientClass(): WaylandClientConstructor | undefined {
  return native()['WaylandClient'] as WaylandClientConstructor | undefined;
}
