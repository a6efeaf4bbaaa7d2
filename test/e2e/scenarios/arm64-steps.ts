// Steps the Arm64 lab's scenarios share: what the kernel and Xen must be, the daemon's capability
// line, the reference picture, the daemon's own account of what it copied, and the lab's small tools.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_DIR } from '../lib/image.js';
import type { Ctx } from '../lib/scenario.js';
import { nativeCrc, vkmsPipe, type Pipe } from '../lib/vkms.js';
import { daemonLog } from './steps.js';

/** dom0 runs the lab kernel under Xen with everything zero-copy needs. */
export async function checkKernel(ctx: Ctx): Promise<void> {
  const r = await ctx.dom0.exec(
    'uname -m; cat /proc/xen/capabilities; echo; xl list | grep -c "^Domain-0"; ls /dev/xen; cat /sys/kernel/debug/dri/0/name; ls /sys/kernel/debug/dri/0/crtc-0/crc',
    60,
  );
  ctx.require(
    'dom0 is an arm64 Xen control domain (xl list shows Domain-0)',
    /^aarch64$/m.test(r.out) && /control_d/.test(r.out) && /^1$/m.test(r.out),
    r.out.trim().split('\n').slice(0, 3).join(' | '),
  );
  ctx.require(
    'dom0 has gntdev, gntalloc and evtchn',
    ['gntdev', 'gntalloc', 'evtchn'].every((d) => new RegExp(`\\b${d}\\b`).test(r.out)),
  );
  ctx.require(
    'dom0 displays on vkms, with CRCs in debugfs',
    /vkms/.test(r.out) && /\bdata\b/.test(r.out) && /\bcontrol\b/.test(r.out),
  );
}

/** The daemon's start-up line on what the kernel lets it do. */
export function capabilityLine(ctx: Ctx): string {
  return (
    daemonLog(ctx)
      .find((l) => /xen platform: /.test(l))
      ?.replace(/.*xen platform: /, '')
      .replace(/".*$/, '') ?? 'no capability line'
  );
}

/** The reference: SMPTE bars drawn natively on vkms by dom0 before the daemon takes the card. */
export async function referenceSmpte(ctx: Ctx): Promise<{ pipe: Pipe; crc: string }> {
  const pipe = await vkmsPipe(ctx.dom0);
  const crc = await nativeCrc(ctx.dom0, pipe, 'smpte', 'reference');
  ctx.require('dom0-native SMPTE reference has a stable vkms CRC', crc !== undefined, crc ?? 'unstable');
  ctx.figure('reference CRC (dom0-native SMPTE 1024x768)', crc!);
  ctx.mark('reference');
  return { pipe, crc: crc! };
}

export interface DaemonAccount {
  /** Guest bytes the daemon's copy path read (all outputs), from `vdispld status --json`. */
  copiedBytes: number | undefined;
  paths: Record<string, number>;
  fallbacks: Record<string, number>;
  connectorPaths: string[];
  /** Whose pages each connector's framebuffer is: guest or be-alloc. */
  connectorBuffers: string[];
  /** Flips shown, summed over every connector. */
  flipsShown: number;
  /** Flips the output answered without showing them (a newer one took their place), summed. */
  flipsDropped: number;
  /** The daemon's live kernel resources (grant mappings, dma-bufs, granted buffers, ...). */
  resources: Record<string, number>;
  raw: string;
}

/** `vdispld status --json` in dom0, reduced to what the zero-copy scenarios judge. */
export async function daemonAccount(ctx: Ctx): Promise<DaemonAccount> {
  const r = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js status --json', 180);
  if (r.rc !== 0)
    return {
      copiedBytes: undefined,
      paths: {},
      fallbacks: {},
      connectorPaths: [],
      connectorBuffers: [],
      flipsShown: 0,
      flipsDropped: 0,
      resources: {},
      raw: r.out.trim().slice(0, 300),
    };
  const s = JSON.parse(r.out) as {
    copiedBytes?: Record<string, number> | null;
    framebuffersByPath: Record<string, number>;
    copyFallbacks: Record<string, number>;
    resources: Record<string, number>;
    devices: { connectors: { path?: string; buffer?: string; flips: { shown: number; dropped: number } }[] }[];
  };
  return {
    copiedBytes: s.copiedBytes ? Object.values(s.copiedBytes).reduce((a, b) => a + b, 0) : undefined,
    paths: s.framebuffersByPath,
    fallbacks: s.copyFallbacks,
    connectorPaths: s.devices.flatMap((d) => d.connectors.map((c) => c.path ?? '-')),
    connectorBuffers: s.devices.flatMap((d) => d.connectors.map((c) => c.buffer ?? '-')),
    resources: s.resources,
    flipsShown: s.devices.flatMap((d) => d.connectors).reduce((n, c) => n + c.flips.shown, 0),
    flipsDropped: s.devices.flatMap((d) => d.connectors).reduce((n, c) => n + c.flips.dropped, 0),
    raw: r.out,
  };
}

/** The lab-only kernel patches the running kernel was built with (names without .patch). */
export async function labPatches(ctx: Ctx): Promise<string[]> {
  const r = await ctx.dom0.exec('cat /opt/lab/kernel-patches.txt 2>/dev/null; true', 30);
  return r.out
    .split('\n')
    .map((l) => l.trim().replace(/\.patch$/, ''))
    .filter(Boolean);
}

/**
 * Cross-builds one of the lab's tools (test/e2e/image-arm64/NAME.c) for arm64 into the scenario's
 * share, a static binary built in seconds, and returns its path in dom0. `what` names it in the check.
 */
export function crossBuildTool(ctx: Ctx, name: string, what: string): string {
  const out = join(ctx.shareDir, name);
  const src = join(REPO_DIR, `test/e2e/image-arm64/${name}.c`);
  const r = spawnSync('aarch64-linux-gnu-gcc', ['-O2', '-Wall', '-static', '-o', out, src], { encoding: 'utf8' });
  ctx.require(
    `${what} cross-builds for arm64`,
    r.status === 0,
    (r.stderr ?? '').trim().split('\n').slice(-2).join(' | '),
  );
  return `/mnt/share/${name}`;
}
