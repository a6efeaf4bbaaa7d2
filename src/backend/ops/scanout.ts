// SET_CONFIG and PG_FLIP: what a connector shows. Two readings of SET_CONFIG are accepted (see
// docs/PROTOCOL-NOTES.md): the header's viewport inside the connector, and Linux xen-drm-front's
// framebuffer-sized request whose x/y is the source offset of the connector's region. Both are
// normalised to one Scanout (viewport + source offset); a flip goes only to a connector that is on
// and must cover that region. PG_FLIP is answered as soon as the flip is queued; its event follows.
// A modeset the output finishes after its answer was given up (deadline, tear-down, framebuffer
// detached meanwhile) is undone: the output goes off rather than show what nobody was told.
import { XEN_EBUSY, XEN_EINVAL, XEN_ENODEV, XEN_ENOENT, XEN_ETIMEDOUT } from '../../displif/constants.js';
import type { Output } from '../../drm/output.js';
import type { PgFlip, SetConfig } from '../../displif/requests.js';
import type { Rect, Size } from '../../util/geometry.js';
import type { ConnectorState, DeviceContext, FlipQueue, ScanoutView } from './context.js';
import { statusOf } from '../../displif/status.js';

export async function setConfig(
  ctx: DeviceContext,
  conn: ConnectorState,
  req: SetConfig,
  late?: AbortSignal,
): Promise<number> {
  const c = req.config;
  if (c === null) {
    conn.scanout = null;
    try {
      await conn.output.setConfig(null);
      return 0;
    } catch (err) {
      return statusOf(err);
    }
  }
  const fb = ctx.registry.framebuffer(c.fbCookie);
  if (!fb) return -XEN_ENOENT;
  if (c.bpp !== fb.format.bpp) return -XEN_EINVAL;
  const view = normaliseConfig(conn.resolution, fb.desc, c);
  if (view === null) return -XEN_EINVAL;
  // The modeset holds the buffer's pages while the output works on it: the guest may destroy the
  // buffer (from connector 0's ring, or after this request timed out) or the connection may end.
  const letGo = fb.dbuf.holds.retain();
  try {
    try {
      await conn.output.setConfig({ fb: fb.desc, ...view });
    } catch (err) {
      return statusOf(err);
    }
    // Done after the frontend was told it failed (`late`: the deadline answered it), after the
    // connection ended, or after the framebuffer was detached meanwhile: nobody may be shown what
    // the guest was not told it shows, so the output goes off and lets go of the framebuffer.
    const undo = late?.aborted
      ? -XEN_ETIMEDOUT
      : !ctx.live
        ? -XEN_ENODEV
        : ctx.registry.framebuffer(c.fbCookie) !== fb
          ? -XEN_ENOENT
          : 0;
    if (undo !== 0) {
      conn.scanout = null;
      await turnOff(conn.output);
      conn.output.release(fb.desc);
      return undo;
    }
    conn.scanout = { fbCookie: c.fbCookie, ...view };
    return 0;
  } finally {
    letGo?.();
  }
}

/** Disables `output`; one that cannot even turn off is left as it is (there is nothing else to ask of it). */
export async function turnOff(output: Output): Promise<void> {
  try {
    await output.setConfig(null);
  } catch {
    /* the output's own failure (gone, device error): its framebuffers are still released by the caller */
  }
}

export function pgFlip(ctx: DeviceContext, conn: ConnectorState, req: PgFlip, flips: FlipQueue): number {
  const fb = ctx.registry.framebuffer(req.fbCookie);
  if (!fb) return -XEN_ENOENT;
  const s = conn.scanout;
  if (s === null) return -XEN_EINVAL;
  if (!covers(fb.desc, s)) return -XEN_EINVAL;
  if (flips.pending >= ctx.registry.quotas.maxPendingFlips) return -XEN_EBUSY;
  flips.queue(fb);
  return 0;
}

/** True when `fb` holds the region the view reads: (srcX, srcY) plus width x height. */
export function covers(fb: Size, v: ScanoutView): boolean {
  // Every value is a u32 from the ring or a resolution, so the sums are exact in a double.
  return v.srcX + v.width <= fb.width && v.srcY + v.height <= fb.height;
}

/**
 * The header's form when the viewport fits the connector and the framebuffer covers it; otherwise
 * Linux's form when width/height are the framebuffer's and the connector-sized region at (x, y)
 * lies inside it; otherwise null (-EINVAL). Empty viewports are refused in both.
 */
export function normaliseConfig(conn: Size, fb: Size, c: Rect): ScanoutView | null {
  if (c.width === 0 || c.height === 0) return null;
  const header: ScanoutView = { x: c.x, y: c.y, width: c.width, height: c.height, srcX: 0, srcY: 0 };
  if (c.x + c.width <= conn.width && c.y + c.height <= conn.height && covers(fb, header)) return header;
  if (c.width !== fb.width || c.height !== fb.height) return null;
  const linux: ScanoutView = { x: 0, y: 0, width: conn.width, height: conn.height, srcX: c.x, srcY: c.y };
  return covers(fb, linux) ? linux : null;
}
