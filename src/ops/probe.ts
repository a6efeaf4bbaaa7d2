// What the operations side sees of a running daemon: its devices and connectors with their
// counters, its outputs and their current frames, and its resource counts. The daemon supplies
// one (daemon-probe.ts); tests can build one from the backend's parts directly. Everything here
// is read-only and cheap: metrics scrapes, status requests and the viewer all call it.
import type { BudgetReport } from '../backend/dom0-budget.js';
import type { LayoutRefusal, LayoutRefusalReason } from '../backend/layout-refusals.js';
import type { Frame, OutputBackend, ScanoutPath } from '../drm/output.js';
import type { InputRouter, RouterStats, TargetStatus } from '../input/router.js';
import type { Rect, Size } from '../util/geometry.js';

/** The per-connector counters the backend keeps; one object per connection (a reconnect starts a new one). */
export interface ConnectorCounters {
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly flipsQueued: number;
  readonly flipsShown: number;
  readonly flipsDropped: number;
  readonly flipLatencyUsSum: number;
  readonly flipLatencyUsLast: number;
}

export interface ConnectorProbe {
  readonly index: number;
  readonly uniqueId: string;
  /** The output it is shown on. */
  readonly output: string;
  readonly resolution: Size;
  /** The guest's viewport after SET_CONFIG, null while off. */
  readonly scanout: Rect | null;
  readonly stats: ConnectorCounters;
  /** Where its output shows more than it (a layout): its own picture at its resolution. */
  readonly connectorFrame?: () => Frame | undefined;
}

export interface DeviceProbe {
  readonly domid: number;
  readonly devId: number;
  /** The backend's phase for the device (idle, initwait, connected, closed-retry, failed, removed). */
  readonly phase: string;
  readonly frontendState: string;
  readonly error: string | undefined;
  readonly connectors: readonly ConnectorProbe[];
}

export interface OutputProbe {
  readonly name: string;
  readonly kind: OutputBackend['kind'];
  readonly width: number | undefined;
  readonly height: number | undefined;
  readonly refreshMilliHz: number | undefined;
}

/** An output showing several guest connectors (a layout), and what composing them costs. */
export interface LayoutProbe {
  readonly output: string;
  /** The layout in force, as it is written (layouts.<output>). */
  readonly layout: string;
  readonly entries: number;
  /** The layout's guest connectors that are there now (GUEST/UNIQUE_ID). */
  readonly guests: readonly string[];
  /** Planes the output shows the layout with (1: composed by the CPU into the primary plane). */
  readonly planes: number;
  /** Composed frames the output showed. */
  readonly framesShown: number;
  /** Bytes the CPU wrote composing them. */
  readonly bytesComposed: number;
  /** Frames whose overlay planes the display refused (a test-only commit): those guests composed instead. */
  readonly planeRefusals: number;
  /** Each entry's guest, bottom to top: on an overlay plane of its own, or composed by the CPU and why. */
  readonly placements: readonly LayoutPlacement[];
}

/** Where a layout entry's guest is shown (ComposedOutput's GuestPlacement). */
export type LayoutPlacement =
  | { readonly key: string; readonly plane: true }
  | { readonly key: string; readonly plane: false; readonly why: string };

/** How a shown framebuffer reaches the screen (ScanoutPath): dma-buf, copied or mapped. */
export type BufferPath = Exclude<ScanoutPath, 'none'>;
/** Whose pages a framebuffer is: the guest's, granted to dom0, or dom0's own granted to the guest (be-alloc). */
export type BufferOwner = 'guest' | 'be-alloc';
export const BUFFER_PATHS: readonly BufferPath[] = ['dma-buf', 'copied', 'mapped'];
export const BUFFER_OWNERS: readonly BufferOwner[] = ['guest', 'be-alloc'];
/** How one connector's shown framebuffer reaches the screen, and whose pages it is. */
export interface ShownVia {
  readonly path: BufferPath;
  readonly buffer: BufferOwner;
}
/** Framebuffers on screen, by whose pages they are and how they reach the screen. */
export type FramebufferCounts = Readonly<Record<BufferOwner, Readonly<Record<BufferPath, number>>>>;

export function emptyFramebufferCounts(): Record<BufferOwner, Record<BufferPath, number>> {
  return {
    guest: { 'dma-buf': 0, copied: 0, mapped: 0 },
    'be-alloc': { 'dma-buf': 0, copied: 0, mapped: 0 },
  };
}

export interface ResourceProbe {
  readonly grantMappings: number;
  readonly mappedPages: number;
  readonly buffers: number;
  readonly framebuffers: number;
  /** Guest buffers exported as dma-bufs (gntdev EXP_FROM_REFS) and not yet released. */
  readonly exportedDmaBufs: number;
  /** Our buffers granted to guests (be-alloc: gntalloc, or a display buffer through IMP_TO_REFS). */
  readonly grantedBuffers: number;
  /** dma-bufs the display driver imported (PRIME), each a GEM handle of ours. */
  readonly dmaBufImports: number;
}

/** A vkbd device as the backend's state machine has it (connected or not). */
export interface VkbdDeviceProbe {
  readonly domid: number;
  readonly devId: number;
  readonly phase: string;
  readonly frontendState: string;
  readonly error: string | undefined;
}

/** Para-virtual input: the vkbd devices, the connected ones as the router sees them, dom0's sources. */
export interface InputProbe {
  readonly devices: readonly VkbdDeviceProbe[];
  readonly targets: readonly TargetStatus[];
  readonly router: RouterStats;
  /** dom0's evdev devices (--input-device); empty when none are read. */
  readonly sources: readonly { readonly path: string; readonly kind: string; readonly grabbed: boolean }[];
}

/** An output of the dom0 Wayland compositor, by the name `wayland:NAME` gives it. */
export interface CompositorOutputProbe {
  readonly name: string;
  readonly description: string;
  readonly width: number;
  readonly height: number;
  readonly refreshMilliHz: number;
}

export interface DaemonProbe {
  devices(): readonly DeviceProbe[];
  outputs(): readonly OutputProbe[];
  /** The Wayland compositor's outputs (empty while it is away); absent or undefined without Wayland output. */
  compositorOutputs?(): readonly CompositorOutputProbe[] | undefined;
  /** The frame an output shows now, RGBA. */
  frame(outputName: string): Frame | undefined;
  resources(): ResourceProbe;
  /** Guest framebuffers on screen now (one per configured connector), by how they reach it. */
  bufferPaths(): FramebufferCounts;
  /** Why buffers were copied rather than scanned out directly, counted since start. */
  fallbacks(): Readonly<Record<string, number>>;
  /** Guest bytes the copy path read since start, by output name; undefined where outputs do not copy (headless). */
  bytesCopied(): Readonly<Record<string, number>> | undefined;
  /** The input router (vkbd devices), for the viewer's input; absent where there is none. */
  input?(): InputRouter | undefined;
  /** vkbd devices and input routing, for status and metrics; absent where there is no input side. */
  inputStatus?(): InputProbe | undefined;
  /** The dom0-wide budget (limits, use, shares, refusals, each guest's holdings); undefined before the backend runs. */
  budget(): BudgetReport | undefined;
  /** Outputs composed from several guests; absent where there are none. */
  layouts?(): readonly LayoutProbe[];
  /** Layouts refused now (each with the line it was refused with), and refusals since start by reason. */
  layoutRefusals?(): LayoutRefusalsProbe | undefined;
}

export interface LayoutRefusalsProbe {
  readonly now: readonly LayoutRefusal[];
  readonly total: Readonly<Record<LayoutRefusalReason, number>>;
}

export type { LayoutRefusal, LayoutRefusalReason };

/** `domid/dev/conn`, as `vdispld snapshot` and the viewer name a connector. */
export function connectorKey(domid: number, devId: number, index: number): string {
  return `${domid}/${devId}/${index}`;
}

export type { BudgetReport, ScanoutPath };

/** A probe that shows nothing until the daemon it stands for is running (listeners start first). */
export class DeferredProbe implements DaemonProbe {
  private inner: DaemonProbe | undefined;

  set(p: DaemonProbe): void {
    this.inner = p;
  }

  devices(): readonly DeviceProbe[] {
    return this.inner?.devices() ?? [];
  }
  outputs(): readonly OutputProbe[] {
    return this.inner?.outputs() ?? [];
  }
  compositorOutputs(): readonly CompositorOutputProbe[] | undefined {
    return this.inner?.compositorOutputs?.();
  }
  input(): InputRouter | undefined {
    return this.inner?.input?.();
  }
  inputStatus(): InputProbe | undefined {
    return this.inner?.inputStatus?.();
  }

  frame(name: string): Frame | undefined {
    return this.inner?.frame(name);
  }
  resources(): ResourceProbe {
    return (
      this.inner?.resources() ?? {
        grantMappings: 0,
        mappedPages: 0,
        buffers: 0,
        framebuffers: 0,
        exportedDmaBufs: 0,
        grantedBuffers: 0,
        dmaBufImports: 0,
      }
    );
  }
  bufferPaths(): FramebufferCounts {
    return this.inner?.bufferPaths() ?? emptyFramebufferCounts();
  }
  fallbacks(): Readonly<Record<string, number>> {
    return this.inner?.fallbacks() ?? {};
  }
  bytesCopied(): Readonly<Record<string, number>> | undefined {
    return this.inner?.bytesCopied();
  }
  budget(): BudgetReport | undefined {
    return this.inner?.budget();
  }
  layouts(): readonly LayoutProbe[] {
    return this.inner?.layouts?.() ?? [];
  }
  layoutRefusals(): LayoutRefusalsProbe | undefined {
    return this.inner?.layoutRefusals?.();
  }
}
