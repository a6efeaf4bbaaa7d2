// SET_CONFIG and PG_FLIP: what a connector shows. The viewport stays inside the connector's
// resolution (the header's rule), the framebuffer must cover it, and a flip goes only to a
// connector that is on. PG_FLIP is answered as soon as the flip is queued; its event follows.
import { XEN_EBUSY, XEN_EINVAL, XEN_ENOENT } from '../../displif/constants.js';
import type { PgFlip, SetConfig } from '../../displif/requests.js';
import type { ConnectorState, DeviceContext, FlipQueue } from './context.js';
import { statusOf } from './errno.js';

export async function setConfig(ctx: DeviceContext, conn: ConnectorState, req: SetConfig): Promise<number> {
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
  const { width: cw, height: ch } = conn.resolution;
  // u32 + u32 is exact in a double.
  if (c.x + c.width > cw || c.y + c.height > ch) return -XEN_EINVAL;
  if (c.width > fb.desc.width || c.height > fb.desc.height) return -XEN_EINVAL;
  if (c.bpp !== fb.format.bpp) return -XEN_EINVAL;
  try {
    await conn.output.setConfig({ fb: fb.desc, x: c.x, y: c.y, width: c.width, height: c.height });
  } catch (err) {
    return statusOf(err);
  }
  // The framebuffer may have been detached while the output was busy: then it shows nothing of it.
  if (ctx.registry.framebuffer(c.fbCookie) !== fb) {
    conn.output.release(fb.desc);
    return -XEN_ENOENT;
  }
  conn.scanout = { fbCookie: c.fbCookie, x: c.x, y: c.y, width: c.width, height: c.height };
  return 0;
}

export function pgFlip(ctx: DeviceContext, conn: ConnectorState, req: PgFlip, flips: FlipQueue): number {
  const fb = ctx.registry.framebuffer(req.fbCookie);
  if (!fb) return -XEN_ENOENT;
  const s = conn.scanout;
  if (s === null) return -XEN_EINVAL;
  if (fb.desc.width < s.width || fb.desc.height < s.height) return -XEN_EINVAL;
  if (flips.pending >= ctx.registry.quotas.maxPendingFlips) return -XEN_EBUSY;
  flips.queue(fb);
  return 0;
}
