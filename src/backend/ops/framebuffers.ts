// FB_ATTACH, FB_DETACH and DBUF_DESTROY: the framebuffer namespace of a device. No pitch travels
// on the wire, so it is derived exactly as the Linux frontend computes its dumb-buffer pitch, and
// the image must fit in buffer_sz in 64-bit arithmetic before any output may read it.
import { XEN_EINVAL, XEN_ENOENT } from '../../displif/constants.js';
import { frontendPitch, imageExtent } from '../../displif/formats.js';
import type { DbufDestroy, FbAttach, FbDetach } from '../../displif/requests.js';
import { releaseBacking, type DisplayBuffer, type Framebuffer } from '../buffer-registry.js';
import type { DeviceContext } from './context.js';

export function fbAttach(ctx: DeviceContext, req: FbAttach): number {
  const dbuf = ctx.registry.buffer(req.dbufCookie);
  if (!dbuf) return -XEN_ENOENT;
  const can = ctx.registry.canAddFramebuffer(req.fbCookie);
  if (can !== 0) return can;
  const q = ctx.registry.quotas;
  if (req.width > q.maxFbWidth || req.height > q.maxFbHeight) return -XEN_EINVAL;
  const { format } = req;
  // A buffer made with geometry has the frontend's dumb pitch; a PRIME import (no geometry) is
  // tightly packed rows of this framebuffer.
  const pitch = dbuf.geometry
    ? frontendPitch(dbuf.geometry.width, dbuf.geometry.bpp)
    : BigInt(req.width) * BigInt(format.cpp);
  const rowBytes = BigInt(req.width) * BigInt(format.cpp);
  if (rowBytes > pitch) return -XEN_EINVAL;
  if (imageExtent(dbuf.dataOfs, pitch, req.width, req.height, format.cpp) > BigInt(dbuf.bufferSz)) return -XEN_EINVAL;
  const fb: Framebuffer = {
    cookie: req.fbCookie,
    dbuf,
    format,
    desc: {
      id: ctx.nextFramebufferId(),
      width: req.width,
      height: req.height,
      fourcc: format.fourcc,
      pitch: Number(pitch),
      offset: dbuf.dataOfs,
      buffer: dbuf.source,
    },
  };
  ctx.registry.addFramebuffer(fb);
  return 0;
}

/** Takes `fb` off every output of the device (they may show or queue it), then forgets it. */
export function detachFramebuffer(ctx: DeviceContext, fb: Framebuffer): void {
  for (const c of ctx.connectors) c.output.release(fb.desc);
  ctx.registry.removeFramebuffer(fb.cookie);
}

export function fbDetach(ctx: DeviceContext, req: FbDetach): number {
  const fb = ctx.registry.framebuffer(req.fbCookie);
  if (!fb) return -XEN_ENOENT;
  detachFramebuffer(ctx, fb);
  return 0;
}

/** Releases a buffer's framebuffers (the protocol leaves their order to the frontend), then its pages. */
export function destroyBuffer(ctx: DeviceContext, dbuf: DisplayBuffer): void {
  for (const cookie of [...dbuf.framebuffers]) {
    const fb = ctx.registry.framebuffer(cookie);
    if (fb) detachFramebuffer(ctx, fb);
  }
  ctx.registry.removeBuffer(dbuf.cookie);
  releaseBacking(dbuf);
}

export function dbufDestroy(ctx: DeviceContext, req: DbufDestroy): number {
  const dbuf = ctx.registry.buffer(req.dbufCookie);
  if (!dbuf) return -XEN_ENOENT;
  destroyBuffer(ctx, dbuf);
  return 0;
}
