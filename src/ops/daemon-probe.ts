// The running daemon as the operations side sees it (a DaemonProbe): the backend's device status,
// the platform's mapping counts, and the outputs of both output backends.
import { LAYOUT_REFUSAL_REASONS, type LayoutRefusals } from '../backend/layout-refusals.js';
import { formatLayout } from '../backend/layouts.js';
import type { Daemon } from '../daemon.js';
import type { Frame, OutputBackend } from '../drm/output.js';
import { inputProbe } from './input-probe.js';
import {
  emptyFramebufferCounts,
  type DaemonProbe,
  type DeviceProbe,
  type FramebufferCounts,
  type InputProbe,
  type OutputProbe,
  type ResourceProbe,
  type ShownVia,
} from './probe.js';

/** An output backend with a copy path counts why buffers were copied and what it copied (the KMS backend does). */
interface WithCopyPath {
  readonly fallbacks?: { byReason(): Record<string, number> };
  copiedBytes?(): Record<string, number>;
}

/**
 * `configRefusals`: the layouts the live configuration refused before they reached the outputs
 * (XenStore values that cannot be parsed), shown beside the outputs' own refusals.
 */
export function daemonProbe(daemon: Daemon, configRefusals?: LayoutRefusals): DaemonProbe {
  // Wayland windows beside another primary (connectors mapped to `wayland[:NAME]`) are outputs too:
  // listed, and their frames snapshotted, like the primary's.
  const backends = (): OutputBackend[] => [
    ...new Set<OutputBackend>([daemon.primary, daemon.headless, ...(daemon.windows ? [daemon.windows] : [])]),
  ];
  // The primary backend and Wayland windows beside it (connectors mapped to `wayland`) both copy.
  const copyPaths = (): (OutputBackend & WithCopyPath)[] =>
    daemon.windows && daemon.windows !== daemon.primary ? [daemon.primary, daemon.windows] : [daemon.primary];
  return {
    devices: (): readonly DeviceProbe[] => daemon.backend.status(),
    input: () => daemon.input,
    inputStatus: (): InputProbe => inputProbe(daemon.vkbd, daemon.input, daemon.evdev),
    outputs(): readonly OutputProbe[] {
      const out: OutputProbe[] = [];
      for (const b of backends()) {
        for (const o of b.outputs()) {
          const m = o.modes.find((x) => x.preferred) ?? o.modes[0];
          out.push({
            name: o.name,
            kind: b.kind,
            width: m?.width,
            height: m?.height,
            refreshMilliHz: m?.refreshMilliHz,
          });
        }
      }
      return out;
    },
    compositorOutputs: () => daemon.windows?.compositorOutputs(),
    frame(name: string): Frame | undefined {
      for (const b of backends()) {
        const o = b.output(name);
        if (o) return o.currentFrame();
      }
      return undefined;
    },
    resources(): ResourceProbe {
      const p = daemon.platform.resources();
      const r = daemon.backend.resources();
      return {
        grantMappings: p.grantMappings,
        mappedPages: p.mappedPages,
        buffers: r.buffers,
        framebuffers: r.framebuffers,
        exportedDmaBufs: p.exportedDmaBufs,
        grantedBuffers: p.grantedBuffers,
        dmaBufImports: daemon.primary.resources().dmaBufImports,
      };
    },
    bufferPaths(): FramebufferCounts {
      const n = emptyFramebufferCounts();
      for (const d of daemon.backend.status())
        for (const c of d.connectors)
          if (c.path !== undefined && c.path !== 'none' && c.buffer !== undefined) n[c.buffer][c.path]++;
      return n;
    },
    fallbacks(): Readonly<Record<string, number>> {
      return sumCounts(copyPaths().map((b) => b.fallbacks?.byReason()));
    },
    bytesCopied(): Record<string, number> | undefined {
      const all = copyPaths().map((b) => b.copiedBytes?.());
      return all.some((x) => x !== undefined) ? sumCounts(all) : undefined;
    },
    budget: () => daemon.backend.budget(),
    layouts: () =>
      daemon.outputs.compositions().map((c) => {
        const s = c.stats;
        return {
          output: c.name,
          layout: formatLayout(c.currentLayout),
          entries: s.entries,
          guests: c.attached(),
          planes: s.planes,
          framesShown: s.framesShown,
          bytesComposed: s.bytesComposed,
          planeRefusals: s.planeRefusals,
          placements: s.placements,
        };
      }),
    layoutRefusals: () => {
      const all = [daemon.outputs.refusals, ...(configRefusals ? [configRefusals] : [])];
      const totals = all.map((r) => r.total());
      return {
        now: all.flatMap((r) => r.list()),
        total: Object.fromEntries(
          LAYOUT_REFUSAL_REASONS.map((k) => [k, totals.reduce((n, t) => n + t[k], 0)]),
        ) as Record<(typeof LAYOUT_REFUSAL_REASONS)[number], number>,
      };
    },
  };
}

/** How a connector's shown framebuffer reaches the screen and whose pages it is, by domid/dev/conn. */
export function daemonPathOf(daemon: Daemon): (key: string) => ShownVia | undefined {
  return (key) => {
    const [domid, dev, conn] = key.split('/').map(Number);
    const d = daemon.backend.status().find((x) => x.domid === domid && x.devId === dev);
    const c = d?.connectors.find((x) => x.index === conn);
    return c?.path === undefined || c.path === 'none' || c.buffer === undefined
      ? undefined
      : { path: c.path, buffer: c.buffer };
  };
}

function sumCounts(parts: readonly (Record<string, number> | undefined)[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const p of parts) for (const [k, n] of Object.entries(p ?? {})) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}
