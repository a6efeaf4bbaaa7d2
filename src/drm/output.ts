// The output seam, shaped like a compositor's backend split: an OutputBackend owns a device (a KMS
// card, or nothing for headless) and its Outputs; the displif backend drives Outputs only through
// this interface and cannot tell KMS from headless. Like every seam of vdispld it is a table of
// methods plus typed events (`events`, see src/util/events.ts): outputs come and go while guests
// run (a monitor plugged in or out), and the backend says so.
import type { EventEmitter } from 'node:events';
import { Errno, ErrnoError } from '../util/errno.js';
import type { LayoutPlace, Rect, Size, SourcedRect } from '../util/geometry.js';

export type { LayoutPlace } from '../util/geometry.js';
import type { DomId } from '../util/ids.js';
import type { ExportedDmaBuf, GrantedBuffer, XenPlatform } from '../xen/platform.js';

/** The failure an output operation rejects with: the errno the guest's request is answered with. */
export class OutputError extends ErrnoError {}

export interface Mode {
  readonly width: number;
  readonly height: number;
  /** Refresh in millihertz (60000 = 60 Hz), as precise as the device reports it. */
  readonly refreshMilliHz: number;
  readonly preferred: boolean;
}

/** Guest pixels: a display buffer, however the backend obtained it. */
export interface BufferSource {
  readonly domid: DomId;
  /** buffer_sz from DBUF_CREATE. */
  readonly size: number;
  /** CPU view of the buffer (the guest's pages mapped read-only, or be-alloc memory). */
  readonly bytes: Uint8Array;
  /**
   * Keeps `bytes` readable after the buffer is released (FB_DETACH, DBUF_DESTROY), for an output
   * that still shows its picture; call the returned function to let go. Undefined (or absent, for
   * memory nobody unmaps) when there is nothing to hold.
   */
  retain?(): (() => void) | undefined;
  /** Present where zero-copy may be tried: export the same pages as a dma-buf. */
  exportDmaBuf?(): Promise<ExportedDmaBuf>;
}

/** A guest framebuffer (FB_ATTACH) with the geometry the backend validated. */
export interface FramebufferDesc {
  /** Unique for the daemon's lifetime; outputs key their caches on it. */
  readonly id: number;
  readonly width: number;
  readonly height: number;
  /** DRM FourCC. */
  readonly fourcc: number;
  /** Bytes per row in the buffer (the frontend's rule: ceil(width*bpp/8) of the dbuf). */
  readonly pitch: number;
  /** Byte offset of the first pixel in the buffer (data_ofs). */
  readonly offset: number;
  readonly buffer: BufferSource;
}

/**
 * The guest's CRTC viewport inside its connector resolution, and where in the framebuffer its
 * top-left pixel comes from. The backend guarantees srcX+width and srcY+height fit the fb.
 */
export interface OutputConfig extends SourcedRect {
  readonly fb: FramebufferDesc;
}

/**
 * Why `cfg` cannot be shown on an output of `size` named `name` (its viewport leaves the mode, or
 * the framebuffer does not cover it), as the OutputError setConfig rejects with; else undefined.
 */
export function viewportError(name: string, cfg: OutputConfig, size: Size): OutputError | undefined {
  const { width, height } = size;
  if (
    cfg.x < 0 ||
    cfg.y < 0 ||
    cfg.x + cfg.width > width ||
    cfg.y + cfg.height > height ||
    cfg.width <= 0 ||
    cfg.height <= 0
  )
    return new OutputError(
      `output ${name}: viewport ${cfg.width}x${cfg.height}+${cfg.x}+${cfg.y} outside ${width}x${height}`,
      Errno.EINVAL,
    );
  const srcX = cfg.srcX ?? 0;
  const srcY = cfg.srcY ?? 0;
  if (!(srcX >= 0 && srcY >= 0) || cfg.fb.width < srcX + cfg.width || cfg.fb.height < srcY + cfg.height)
    return new OutputError(
      `output ${name}: framebuffer ${cfg.fb.width}x${cfg.fb.height} smaller than the viewport`,
      Errno.EINVAL,
    );
  return undefined;
}

export type FlipResult =
  { readonly shown: true; readonly timestampNs: bigint } | { readonly shown: false; readonly reason: string };

/** The frame an output shows now, as 8-bit RGBA, for snapshots, hashes and the viewer. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
  /** Increments every time a new frame is shown. */
  readonly sequence: number;
}

/**
 * How a framebuffer reaches the screen, in the words status, metrics, logs and docs use:
 * `dma-buf`, the guest's pages exported as a dma-buf and scanned out by the card as they are;
 * `copied`, copied at each flip into a buffer of the card's; `mapped`, no card (headless): the
 * guest's pages mapped into dom0 and read where they are, for snapshots and the viewer. Neither
 * of the last two is zero-copy scanout, which only `dma-buf` is.
 */
export type ScanoutPath = 'dma-buf' | 'copied' | 'mapped' | 'none';

/** A guest framebuffer on a plane of its own above an output's picture (a composed layout's guest). */
export interface PlaneLayer {
  readonly fb: FramebufferDesc;
  /** The part of the framebuffer shown, in its pixels. */
  readonly src: Rect;
  /** Where it lands, in the mode's pixels (another size than src: the plane scales it). */
  readonly dst: Rect;
}

/** Whether the plane must scale `l` (its source and destination sizes differ). */
export function isScaledLayer(l: PlaneLayer): boolean {
  return l.src.width !== l.dst.width || l.src.height !== l.dst.height;
}

export interface Output {
  readonly name: string;
  readonly modes: readonly Mode[];
  /**
   * Outputs with overlay planes (KMS, atomic) implement these five: how many planes a flip may
   * carry guest framebuffers on above the picture (as many as the planes' stacking allows);
   * readying a framebuffer for a plane (its import), resolving whether it can be on one at all;
   * whether some plane can show a layer over `fb` (its scaling: test-only commits, remembered);
   * whether the display takes a picture with these layers, bottom to top, now (a test-only
   * commit, no side effect); each of the last two true or why not; and a flip with them (an empty
   * list turns the planes off).
   */
  readonly overlayPlanes?: number;
  preparePlane?(fb: FramebufferDesc): Promise<boolean>;
  layerFits?(fb: FramebufferDesc, layer: PlaneLayer): true | string;
  testLayers?(fb: FramebufferDesc, layers: readonly PlaneLayer[]): true | string;
  flipLayers?(fb: FramebufferDesc, layers: readonly PlaneLayer[], done: (r: FlipResult) => void): void;
  /**
   * Where the output shows more than this connector (a slot of a composed output, whose
   * currentFrame is the whole composition): the connector's own picture, at its resolution.
   */
  connectorFrame?(): Frame | undefined;
  /** Where the output shows more than this connector: its place there now (undefined while not shown). */
  layoutPlace?(): LayoutPlace | undefined;
  /** Sets the configuration (null disables). Rejects with an OutputError on failure. */
  setConfig(cfg: OutputConfig | null): Promise<void>;
  /**
   * Queues `fb` to be shown at the next vblank. `done` is called exactly once, from the event loop:
   * shown, or dropped with a reason (output disabled, lost DRM master, device error).
   */
  flip(fb: FramebufferDesc, done: (r: FlipResult) => void): void;
  /** Forget anything cached for `fb` (its FB_DETACH or DBUF_DESTROY). Safe for unknown fbs. */
  release(fb: FramebufferDesc): void;
  /** The frame shown now, or undefined when disabled. */
  currentFrame(): Frame | undefined;
  /** How `fb` is (or would be) scanned out, and why not zero-copy where it is copied. */
  pathOf(fb: FramebufferDesc): { path: ScanoutPath; reason?: string };
}

export interface OutputBackendResources {
  readonly framebuffers: number;
  readonly dmaBufImports: number;
  readonly dumbBuffers: number;
}

/** A size asked of a backend that makes outputs on demand. */
export interface OutputSpec {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Default 60000 (60 Hz, what the Linux frontend assumes). */
  readonly refreshMilliHz?: number;
  /**
   * The guest connector the output is made for (a window is titled with `label`; `uniqueId` finds
   * the guest's vkbd for input on it).
   */
  readonly connector?: { readonly domid: DomId; readonly label: string; readonly uniqueId?: string };
}

/**
 * Memory of the output device's own, mapped for dom0 to draw a whole picture into (a composed
 * layout) and flipped to as it is: on a card, a dumb buffer, scanned out with no copy.
 */
export interface DrawBuffer {
  /** The mapping, at least pitch × height bytes, 4-byte aligned. */
  readonly bytes: Uint8Array;
  /** Bytes per row, as the device chose (a multiple of 4). */
  readonly pitch: number;
  /** Frees the memory; the output has let go of every framebuffer over it. Idempotent. */
  close(): void;
}

export interface OutputBackendEvents {
  /**
   * `output` can show a guest: a monitor was plugged in (a KMS connector came up; one that was
   * unplugged comes back as the same object, showing its guest again) or an output was made.
   */
  'output-added': [output: Output];
  /**
   * `output` shows nothing until it is added again: its monitor was unplugged, or it was removed.
   * A claim on it stays valid: its flips are answered as dropped, its configuration is kept.
   * `swapped`: another monitor is on the connector (found with other modes, no unplug seen): it
   * is added again at once (in the same turn) where it can be driven.
   */
  'output-removed': [output: Output, swapped?: boolean];
}

export interface OutputBackend {
  /** Which implementation, for logs and status. */
  readonly kind: 'headless' | 'kms' | 'wayland';
  readonly events: EventEmitter<OutputBackendEvents>;
  /** The outputs that can show a guest now. */
  outputs(): readonly Output[];
  output(name: string): Output | undefined;
  /**
   * Backends that make outputs on demand (headless) implement both: a new output of this size
   * (output-added), and its removal (output-removed; unknown names are ignored).
   */
  createOutput?(spec: OutputSpec): Output;
  removeOutput?(name: string): void;
  /**
   * Memory for a be-alloc buffer, granted to `domid`: scanout-capable where the device can
   * (dumb buffer exported and imported to refs), else pages from the platform's allocator.
   */
  allocateGuestBuffer(platform: XenPlatform, domid: DomId, size: number): Promise<GrantedBuffer>;
  /**
   * Where the device has scanout memory dom0 can draw into (a card's dumb buffers): an XRGB8888
   * buffer of `size` its outputs show without copying it; undefined where it has none or refuses.
   */
  allocateDrawBuffer?(size: Size): DrawBuffer | undefined;
  resources(): OutputBackendResources;
  close(): Promise<void>;
}

/** A backend that makes outputs on demand: where connectors without an output of their own go. */
export type OnDemandBackend = OutputBackend & Required<Pick<OutputBackend, 'createOutput' | 'removeOutput'>>;

export function makesOutputs(b: OutputBackend): b is OnDemandBackend {
  return typeof b.createOutput === 'function' && typeof b.removeOutput === 'function';
}
