// The status of a running daemon as one JSON document: `vdispld status --json` prints it as it is,
// the text form and the viewer render it. Versioned, so scripts can tell what they read.
import type {
  BudgetReport,
  BufferOwner,
  BufferPath,
  CompositorOutputProbe,
  DaemonProbe,
  FramebufferCounts,
  ShownVia,
  InputProbe,
  LayoutProbe,
  LayoutRefusal,
  OutputProbe,
  ResourceProbe,
} from '../probe.js';
import type { TargetEvents } from '../../input/router.js';
import { BUFFER_PATHS, connectorKey } from '../probe.js';
import type { FrameRates } from './frame-rate.js';
import type { Rect, Size } from '../../util/geometry.js';

export const STATUS_VERSION = 1;

export interface ConnectorReport {
  /** domid/dev/conn: what `vdispld snapshot` takes. */
  readonly key: string;
  readonly index: number;
  readonly uniqueId: string;
  readonly output: string;
  readonly resolution: Size;
  readonly scanout: Rect | null;
  /** How the shown framebuffer reaches the screen (dma-buf, copied, mapped), when the daemon knows. */
  readonly path: BufferPath | undefined;
  /** Whose pages it is: the guest's, or dom0's granted to the guest (be-alloc); with `path`. */
  readonly buffer: BufferOwner | undefined;
  readonly framesPerSecond: number | null;
  readonly flipLatencyMs: { readonly last: number | null; readonly mean: number | null };
  readonly flips: { readonly shown: number; readonly dropped: number };
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
}

export interface DeviceReport {
  readonly domid: number;
  readonly devId: number;
  readonly state: string;
  readonly frontendState: string;
  readonly error: string | null;
  readonly connectors: readonly ConnectorReport[];
}

/** A vkbd device: its XenBus state and, while connected, what it offers and what it got. */
export interface VkbdReport {
  readonly domid: number;
  readonly devId: number;
  readonly state: string;
  readonly frontendState: string;
  readonly error: string | null;
  /** The rest only while connected (null otherwise). */
  readonly uniqueId: string | null;
  /** The pointer's and touch screen's space (its connector's resolution); null when relative only. */
  readonly size: Size | null;
  readonly absPointer: boolean;
  readonly multiTouch: boolean;
  readonly focused: boolean;
  /** Keys, buttons and touches down in the guest now. */
  readonly held: number;
  readonly events: TargetEvents | null;
}

export interface InputReport {
  /** The vkbd with focus, "domid/dev", or null: nobody gets input. */
  readonly focus: string | null;
  readonly focusChanges: number;
  /** Events from dom0's sources with no guest focused (not delivered anywhere). */
  readonly unfocused: number;
  /** Events the focused guest has no device for. */
  readonly refused: number;
  readonly vkbd: readonly VkbdReport[];
  readonly sources: readonly { readonly path: string; readonly kind: string; readonly grabbed: boolean }[];
}

export interface StatusReport {
  readonly version: typeof STATUS_VERSION;
  readonly daemon: { readonly version: string; readonly pid: number; readonly uptimeSeconds: number };
  readonly outputs: readonly OutputProbe[];
  /** The Wayland compositor's outputs by the names `wayland:NAME` takes; null without Wayland output. */
  readonly compositorOutputs: readonly CompositorOutputProbe[] | null;
  readonly devices: readonly DeviceReport[];
  readonly resources: ResourceProbe;
  /** The dom0-wide budget: limits, use, the share one guest may hold now, refusals, each guest's holdings. */
  readonly budget: BudgetReport | null;
  /** Framebuffers on screen by path, all of them (the guests' and be-alloc). */
  readonly framebuffersByPath: Readonly<Record<BufferPath, number>>;
  /** Of those, the be-alloc ones (dom0's pages granted to the guest), by path. */
  readonly beAllocFramebuffersByPath: Readonly<Record<BufferPath, number>>;
  readonly copyFallbacks: Readonly<Record<string, number>>;
  /**
   * Guest bytes the copy path has read since start, by output (vdispld_copied_bytes_total); null when
   * the output backend has no copy path to count.
   */
  readonly copiedBytes: Readonly<Record<string, number>> | null;
  /** Outputs showing several guests (layouts), with their composition figures. */
  readonly layouts: readonly LayoutProbe[];
  /**
   * Layouts refused now: the output, why in a word (unparsable, conflict, unfit, output-refused),
   * the line it was refused with, and whether the output still shows its previous layout.
   */
  readonly layoutRefusals: readonly LayoutRefusal[];
  /** Para-virtual input (vkbd devices, focus, dom0's sources); null where the daemon has no input side. */
  readonly input: InputReport | null;
  /** Where the daemon listens (URLs; absent when off). */
  readonly listeners?: { readonly metrics?: string; readonly viewer?: string; readonly controlSocket?: string };
  /** Settings in force and where each came from, when the daemon has a config. */
  readonly config?: Readonly<Record<string, { readonly value: unknown; readonly origin: string }>>;
}

export interface ReportContext {
  readonly probe: DaemonProbe;
  readonly rates: FrameRates;
  readonly version: string;
  readonly startedAtMs: number;
  readonly nowMs: number;
  readonly config?: StatusReport['config'];
  readonly listeners?: StatusReport['listeners'];
  /** How a connector's current framebuffer is shown (from the daemon), by key. */
  readonly pathOf?: (key: string) => ShownVia | undefined;
}

function shownVia(v: ShownVia | undefined): Pick<ConnectorReport, 'path' | 'buffer'> {
  return v ? { path: v.path, buffer: v.buffer } : { path: undefined, buffer: undefined };
}

function framebufferTotals(
  n: FramebufferCounts,
): Pick<StatusReport, 'framebuffersByPath' | 'beAllocFramebuffersByPath'> {
  const all = Object.fromEntries(BUFFER_PATHS.map((p) => [p, n.guest[p] + n['be-alloc'][p]])) as Record<
    BufferPath,
    number
  >;
  return { framebuffersByPath: all, beAllocFramebuffersByPath: { ...n['be-alloc'] } };
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function buildStatus(ctx: ReportContext): StatusReport {
  const devices: DeviceReport[] = ctx.probe.devices().map((d) => ({
    domid: d.domid,
    devId: d.devId,
    state: d.phase,
    frontendState: d.frontendState,
    error: d.error ?? null,
    connectors: d.connectors.map((c) => {
      const key = connectorKey(d.domid, d.devId, c.index);
      const s = c.stats;
      const settled = s.flipsShown + s.flipsDropped;
      const fps = ctx.rates.rate(key);
      return {
        key,
        index: c.index,
        uniqueId: c.uniqueId,
        output: c.output,
        resolution: { width: c.resolution.width, height: c.resolution.height },
        scanout: c.scanout
          ? { width: c.scanout.width, height: c.scanout.height, x: c.scanout.x, y: c.scanout.y }
          : null,
        ...shownVia(c.scanout ? ctx.pathOf?.(key) : undefined),
        framesPerSecond: fps === undefined ? null : round(fps, 1),
        flipLatencyMs: {
          last: settled > 0 ? round(s.flipLatencyUsLast / 1000, 2) : null,
          mean: settled > 0 ? round(s.flipLatencyUsSum / settled / 1000, 2) : null,
        },
        flips: { shown: s.flipsShown, dropped: s.flipsDropped },
        requests: s.requests,
        errors: s.errors,
        timeouts: s.timeouts,
      };
    }),
  }));
  return {
    version: STATUS_VERSION,
    daemon: {
      version: ctx.version,
      pid: process.pid,
      uptimeSeconds: Math.max(0, Math.round((ctx.nowMs - ctx.startedAtMs) / 1000)),
    },
    outputs: ctx.probe.outputs(),
    compositorOutputs: ctx.probe.compositorOutputs?.() ?? null,
    devices,
    resources: ctx.probe.resources(),
    budget: ctx.probe.budget() ?? null,
    ...framebufferTotals(ctx.probe.bufferPaths()),
    copyFallbacks: ctx.probe.fallbacks(),
    copiedBytes: ctx.probe.bytesCopied() ?? null,
    layouts: ctx.probe.layouts?.() ?? [],
    layoutRefusals: ctx.probe.layoutRefusals?.()?.now ?? [],
    input: inputReport(ctx.probe.inputStatus?.()),
    ...(ctx.listeners ? { listeners: ctx.listeners } : {}),
    ...(ctx.config ? { config: ctx.config } : {}),
  };
}

function inputReport(p: InputProbe | undefined): InputReport | null {
  if (!p) return null;
  const key = (domid: number, devId: number): string => `${domid}/${devId}`;
  const targets = new Map(p.targets.map((t) => [key(t.domid, t.devId), t]));
  const focused = p.targets.find((t) => t.focused);
  return {
    focus: focused ? key(focused.domid, focused.devId) : null,
    focusChanges: p.router.focusChanges,
    unfocused: p.router.unfocused,
    refused: p.router.refused,
    vkbd: p.devices.map((d) => {
      const t = targets.get(key(d.domid, d.devId));
      return {
        domid: d.domid,
        devId: d.devId,
        state: d.phase,
        frontendState: d.frontendState,
        error: d.error ?? null,
        uniqueId: t?.uniqueId ?? null,
        size: t && t.width > 0 ? { width: t.width, height: t.height } : null,
        absPointer: t?.absPointer ?? false,
        multiTouch: t?.multiTouch ?? false,
        focused: t?.focused ?? false,
        held: t?.held ?? 0,
        events: t ? t.events : null,
      };
    }),
    sources: p.sources.map((s) => ({ path: s.path, kind: s.kind, grabbed: s.grabbed })),
  };
}
