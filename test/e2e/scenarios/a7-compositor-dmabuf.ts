// a7. A Wayland compositor in dom0 taking a guest's dma-buf (`vdispld --output wayland` with
// zwp_linux_dmabuf_v1). On this board every renderer is a software one: Weston 10 advertises
// linux-dmabuf only with its GL renderer (llvmpipe through Mesa's kms_swrast on vkms), wlroots 0.15
// only with a renderer that has dma-buf texture formats (its pixman renderer has none). A software
// renderer reads a client's dma-buf on the CPU — kms_swrast by a PRIME import into the card,
// MAP_DUMB and mmap of the card; pixman-style readers by mmap of the dma-buf — so the first question
// is whether a dma-buf of gntdev's exporter (what the daemon makes of a guest's buffer) can be read
// that way at all. image-arm64/cpu-read-probe.c asks the kernel exactly that; the compositor is
// tried only when it can. docs/E2E-ARM64.md has the measurements.
import type { Scenario } from '../lib/scenario.js';
import { VKMS_MODE } from '../lib/vkms.js';
import { crossBuildTool } from './arm64-steps.js';

/** One probe line: the step, ok with its time (and detail) or the errno the kernel returned. */
export interface ProbeStep {
  step: string;
  ok: boolean;
  ms?: number;
  detail: string;
}

export function parseProbe(out: string): ProbeStep[] {
  return [...out.matchAll(/^probe: ([^:]+): (ok|errno \d+)\s*(.*)$/gm)].map((m) => {
    const ms = /^([\d.]+) ms,?\s*(.*)$/.exec(m[3]!);
    return {
      step: m[1]!,
      ok: m[2] === 'ok',
      ms: ms ? Number(ms[1]) : undefined,
      detail: m[2] === 'ok' ? (ms?.[2] ?? m[3]!) : `${m[2]} ${m[3]}`.trim(),
    };
  });
}

export const a7CompositorDmabuf: Scenario = {
  id: 'a7-compositor-dmabuf',
  title:
    "a compositor's software renderer reading a guest's dma-buf: can a gntdev export be read on the CPU (mmap), as kms_swrast and pixman must",
  async run(ctx) {
    const probe = crossBuildTool(ctx, 'cpu-read-probe', 'the probe');
    const { width, height } = VKMS_MODE;
    const r = await ctx.dom0.exec(`${probe} ${width} ${height}`, 120);
    const steps = parseProbe(r.out);
    const at = (name: string): ProbeStep | undefined => steps.find((s) => s.step === name);
    for (const s of steps)
      ctx.figure(
        `probe ${s.step}`,
        s.ok ? `ok${s.ms !== undefined ? ` ${s.ms} ms` : ''}${s.detail ? ` ${s.detail}` : ''}` : s.detail,
      );
    const exported = at('gntdev EXP_FROM_REFS');
    const imported = at('vkms PRIME_FD_TO_HANDLE of the export');
    ctx.require(
      "a dma-buf of gntdev's exporter is made (IMP_TO_REFS, EXP_FROM_REFS) and vkms imports it (PRIME)",
      !!exported?.ok && !!imported?.ok,
      r.out.trim().split('\n').slice(-4).join(' | '),
    );
    const direct = at('mmap of the exported dma-buf');
    // kms_swrast maps an imported buffer with MAP_DUMB, then mmap of the card: either may refuse
    const mapDumb = at('vkms MAP_DUMB of the imported handle');
    const viaCard = mapDumb?.ok ? at('mmap of the card at the imported handle') : mapDumb;
    const readable = (s: ProbeStep | undefined): boolean => !!s?.ok && /\b0 of \d+ pixels differ/.test(s.detail);
    ctx.figure(
      'CPU read of the export by mmap of the dma-buf (pixman-style)',
      readable(direct) ? 'reads the pattern' : (direct?.detail ?? 'not tried'),
    );
    ctx.figure(
      "CPU read of the export through vkms's PRIME import (kms_swrast's way)",
      readable(viaCard)
        ? 'reads the pattern'
        : `${viaCard === mapDumb ? 'MAP_DUMB' : 'mmap'}: ${viaCard?.detail ?? 'not tried'}`,
    );
    if (!readable(direct) && !readable(viaCard)) {
      ctx.blocked(
        "no software renderer can read a guest's dma-buf on this kernel: mmap of a gntdev export fails " +
          `(${direct?.detail ?? 'not tried'}: the exporter has no mmap) and vkms refuses MAP_DUMB of an imported ` +
          `buffer (${mapDumb?.detail ?? 'not tried'}: DRM does not map imported objects); the compositor was not started`,
      );
    }
    ctx.blocked('the CPU can read a gntdev export here; the compositor part of this scenario is not built yet');
  },
};
