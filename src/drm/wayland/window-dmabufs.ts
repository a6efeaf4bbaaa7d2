// Zero-copy into a window: the guest's framebuffer exported as a dma-buf (gntdev) and handed to
// the compositor as a zwp_linux_dmabuf_v1 buffer, so the compositor reads the guest's pages
// themselves. Decided once per framebuffer and window; every refusal (no linux-dmabuf global, a
// format the compositor does not list, the export refused by the kernel, the import refused by the
// compositor) sends that framebuffer down the wl_shm copy path with its reason counted, in the
// words the KMS output uses where the cause is the same.
import { fourccToString } from '../../displif/formats.js';
import type { ExportedDmaBuf } from '../../xen/platform.js';
import type { FallbackStats } from '../kms/fallbacks.js';
import type { FramebufferDesc, OutputConfig } from '../output.js';
import type { WaylandConnection } from './wayland-connection.js';

/** DRM_FORMAT_MOD_LINEAR and DRM_FORMAT_MOD_INVALID (implicit: the compositor's driver decides). */
export const MOD_LINEAR = 0n;
export const MOD_INVALID = 0xffffffffffffffn;

/** The reasons of this output's own (Wayland) refusals; export refusals use the KMS output's words. */
export const DMABUF_REASONS = {
  noGlobal: 'the compositor offers no zwp_linux_dmabuf_v1',
  noExport: 'this platform cannot export guest buffers as dma-bufs',
  refused: 'the compositor refused the dma-buf (zwp_linux_buffer_params_v1.failed)',
  viewport: 'the guest shows part of its framebuffer (the window shows a dma-buf whole)',
  tooShort: "the framebuffer's rows run past the end of its dma-buf",
  released: 'released before it was shown',
  disabled: 'disabled by configuration',
} as const;

export type WindowPlan =
  | { readonly kind: 'dma-buf'; readonly buffer: number }
  | { readonly kind: 'copy'; readonly reason: string }
  | { readonly kind: 'pending' };

/** What a window's dma-bufs need of the connection (a narrow face, so tests can stand in for it). */
export type DmabufConnection = Pick<WaylandConnection, 'dmabufFormats' | 'createDmabuf' | 'destroyBuffer'>;

interface Entry {
  plan: WindowPlan;
  dmabuf?: ExportedDmaBuf;
  buffer?: number;
  dropped: boolean;
}

/**
 * The modifier a linear guest buffer is offered with: LINEAR where the compositor lists it for
 * `fourcc`, else implicit (a v1/v2 compositor, or one that lists only that); undefined: not taken.
 */
export function linearModifier(formats: readonly (readonly [number, bigint])[], fourcc: number): bigint | undefined {
  let implicit = false;
  for (const [f, m] of formats) {
    if (f !== fourcc) continue;
    if (m === MOD_LINEAR) return MOD_LINEAR;
    if (m === MOD_INVALID) implicit = true;
  }
  return implicit ? MOD_INVALID : undefined;
}

/** The exporter's own offset of the buffer in its fd (the simulator's dma-bufs have one; gntdev's are 0). */
function baseOffset(d: ExportedDmaBuf): number {
  const o = (d as { offset?: unknown }).offset;
  return typeof o === 'number' && Number.isSafeInteger(o) && o >= 0 ? o : 0;
}

function codeOf(err: unknown): string {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'string' ? c : 'error';
}

/** Does the guest's viewport show `fb` whole at the window's size (what a window can show of a dma-buf)? */
export function showsWhole(cfg: OutputConfig, fb: FramebufferDesc, width: number, height: number): boolean {
  return (
    cfg.x === 0 &&
    cfg.y === 0 &&
    (cfg.srcX ?? 0) === 0 &&
    (cfg.srcY ?? 0) === 0 &&
    cfg.width === width &&
    cfg.height === height &&
    fb.width === width &&
    fb.height === height
  );
}

export class WindowDmabufs {
  private readonly byFb = new Map<number, Entry>();
  private readonly byBuffer = new Map<number, Entry>();
  private closed = false;

  constructor(
    private readonly conn: DmabufConnection,
    private readonly window: number,
    private readonly stats: FallbackStats,
    /** The operator's zero-copy switch, read when a framebuffer is first planned. */
    private readonly enabled: () => boolean,
    /** A pending plan was decided (the output may show what waited for it). */
    private readonly onDecided: () => void,
  ) {}

  /** Live dma-buf buffers (created or asked for) of this window. */
  get buffers(): number {
    return this.byBuffer.size;
  }

  /** The plan for `fb` when known (undefined: never planned here). */
  known(fb: FramebufferDesc): WindowPlan | undefined {
    return this.byFb.get(fb.id)?.plan;
  }

  /** How `fb` goes to this window under `cfg`; starts deciding the first time (then 'pending'). */
  plan(fb: FramebufferDesc, cfg: OutputConfig, width: number, height: number): WindowPlan {
    const known = this.byFb.get(fb.id);
    if (known) return known.plan;
    const e: Entry = { plan: { kind: 'pending' }, dropped: false };
    this.byFb.set(fb.id, e);
    const formats = this.conn.dmabufFormats();
    const modifier = formats === null ? undefined : linearModifier(formats, fb.fourcc);
    const refusal = !this.enabled()
      ? DMABUF_REASONS.disabled
      : formats === null
        ? DMABUF_REASONS.noGlobal
        : modifier === undefined
          ? `the compositor takes no linear ${fourccToString(fb.fourcc)} dma-buf`
          : !showsWhole(cfg, fb, width, height)
            ? DMABUF_REASONS.viewport
            : !fb.buffer.exportDmaBuf
              ? DMABUF_REASONS.noExport
              : undefined;
    if (refusal !== undefined) {
      this.settle(e, { kind: 'copy', reason: refusal });
      return e.plan;
    }
    void this.start(fb, e, modifier!);
    return e.plan;
  }

  /** The compositor's answer to a buffer asked for; false when the buffer is not one of these. */
  answer(buffer: number, created: boolean): boolean {
    const e = this.byBuffer.get(buffer);
    if (!e || e.plan.kind !== 'pending') return false;
    if (created) {
      this.settle(e, { kind: 'dma-buf', buffer });
    } else {
      this.free(e);
      this.settle(e, { kind: 'copy', reason: DMABUF_REASONS.refused });
    }
    this.onDecided();
    return true;
  }

  /** Forgets `fb` (its FB_DETACH): its buffer destroyed, its export closed. Safe for unknown fbs. */
  release(fb: FramebufferDesc): void {
    const e = this.byFb.get(fb.id);
    if (!e) return;
    this.byFb.delete(fb.id);
    e.dropped = true;
    this.free(e);
  }

  /** Every buffer and export (the window goes, or the plans are void); idempotent. */
  close(): void {
    this.closed = true;
    for (const e of this.byFb.values()) {
      e.dropped = true;
      this.free(e);
    }
    this.byFb.clear();
  }

  private async start(fb: FramebufferDesc, e: Entry, modifier: bigint): Promise<void> {
    let dmabuf: ExportedDmaBuf;
    try {
      dmabuf = await fb.buffer.exportDmaBuf!();
    } catch (err) {
      this.decided(e, { kind: 'copy', reason: `dma-buf export refused (${codeOf(err)})` });
      return;
    }
    if (e.dropped || this.closed) {
      void dmabuf.close();
      if (!this.closed) this.decided(e, { kind: 'copy', reason: DMABUF_REASONS.released });
      return;
    }
    e.dmabuf = dmabuf;
    // The compositor checks the plane against the fd's size and ends the whole connection when it
    // does not fit: check it here, where it only costs this framebuffer its zero-copy.
    if (fb.offset + fb.pitch * fb.height > dmabuf.size) {
      this.free(e);
      this.decided(e, { kind: 'copy', reason: DMABUF_REASONS.tooShort });
      return;
    }
    try {
      const buffer = this.conn.createDmabuf(this.window, {
        fd: dmabuf.fd,
        width: fb.width,
        height: fb.height,
        fourcc: fb.fourcc,
        offset: baseOffset(dmabuf) + fb.offset,
        stride: fb.pitch,
        modifier,
      });
      e.buffer = buffer;
      this.byBuffer.set(buffer, e);
    } catch (err) {
      this.free(e);
      this.decided(e, { kind: 'copy', reason: `dma-buf buffer not made (${codeOf(err)})` });
    }
  }

  private decided(e: Entry, plan: WindowPlan): void {
    this.settle(e, plan);
    if (!this.closed) this.onDecided();
  }

  private settle(e: Entry, plan: WindowPlan): void {
    e.plan = plan;
    if (plan.kind === 'copy' && !e.dropped) this.stats.count(plan.reason);
  }

  private free(e: Entry): void {
    if (e.buffer !== undefined) {
      this.byBuffer.delete(e.buffer);
      this.conn.destroyBuffer(this.window, e.buffer);
      e.buffer = undefined;
    }
    if (e.dmabuf) {
      // Resolves once the compositor let go of its import too (the platform waits off the loop).
      void e.dmabuf.close();
      e.dmabuf = undefined;
    }
  }
}
