// DBUF_CREATE: reserve quota, then either map the frontend's pages (read-only: scan-out and copy
// only read them) or, for be-alloc, allocate pages, grant them to the frontend and write their refs
// into its directory before answering. A creation that finishes after the connection went away
// releases what it got instead of registering it.
import { XEN_EINVAL, XEN_ENODEV } from '../../displif/constants.js';
import { bufferPageCount, type DbufCreate } from '../../displif/requests.js';
import type { BufferSource } from '../../drm/output.js';
import { BackingHolds, type BufferBacking, type DisplayBuffer } from '../buffer-registry.js';
import type { DeviceContext, OpResult } from './context.js';
import { statusOf } from '../../displif/status.js';
import { readDirectory, writeDirectory } from './guest-pages.js';

export async function dbufCreate(ctx: DeviceContext, req: DbufCreate): Promise<OpResult> {
  // REQ_ALLOC means something only where the toolstack set be-alloc: Linux ORs the flag into the
  // slot's stale contents, so on a be-alloc=0 device a set bit is a leftover, not a request.
  const beAlloc = req.beAlloc && ctx.beAlloc;
  // Linux also sets the flag for PRIME imports (no geometry); their pages belong to another
  // guest driver and must not be replaced by ours.
  if (beAlloc && req.geometry === null) return { status: -XEN_EINVAL };
  const pages = bufferPageCount(req.bufferSz);
  const reserved = ctx.registry.reserveBuffer(req.dbufCookie, pages);
  if (!reserved.ok) return { status: reserved.errno };
  const r = reserved.r;
  let backing: BufferBacking | undefined;
  try {
    backing = beAlloc ? await allocateForFrontend(ctx, req) : await mapFromFrontend(ctx, req, pages);
  } catch (err) {
    ctx.registry.cancel(r);
    return { status: statusOf(err) };
  }
  const holds = new BackingHolds(backing);
  const dbuf: DisplayBuffer = {
    cookie: req.dbufCookie,
    geometry: req.geometry,
    bufferSz: req.bufferSz,
    dataOfs: req.dataOfs,
    pages,
    backing,
    holds,
    source: sourceOf(ctx, backing, holds, req.bufferSz),
    framebuffers: new Set(),
  };
  if (!ctx.live || !ctx.registry.commit(r, dbuf)) {
    holds.releaseOwn();
    ctx.registry.cancel(r);
    return { status: -XEN_ENODEV };
  }
  return { status: 0 };
}

async function mapFromFrontend(ctx: DeviceContext, req: DbufCreate, pages: number): Promise<BufferBacking> {
  // A buffer over the guest's share of the dom0 budget is refused before its directory is walked:
  // on real Xen under load, walking the 17 directory pages of a 16384-page buffer outlasted the
  // request's 2 s deadline, and the guest got -ETIMEDOUT for what the budget refuses at once.
  ctx.platform.admitMapping?.(ctx.domid, pages);
  const refs = await readDirectory(ctx.platform, ctx.domid, req.grefDirectory, pages);
  const mapping = await ctx.platform.mapGrants(ctx.domid, refs, { writable: false });
  return { kind: 'frontend', mapping };
}

async function allocateForFrontend(ctx: DeviceContext, req: DbufCreate): Promise<BufferBacking> {
  const granted = await ctx.allocator.allocateGuestBuffer(ctx.platform, ctx.domid, req.bufferSz);
  try {
    await writeDirectory(ctx.platform, ctx.domid, req.grefDirectory, granted.refs);
  } catch (err) {
    granted.close();
    throw err;
  }
  return { kind: 'backend', granted };
}

function sourceOf(ctx: DeviceContext, backing: BufferBacking, holds: BackingHolds, size: number): BufferSource {
  const retain = (): (() => void) | undefined => holds.retain();
  if (backing.kind === 'backend') {
    // An imported dma-buf has no CPU view; the output that made it scans it out itself.
    return { domid: ctx.domid, size, bytes: backing.granted.bytes?.subarray(0, size) ?? new Uint8Array(0), retain };
  }
  // Outputs see exactly buffer_sz bytes, never the tail of the last page.
  const { mapping } = backing;
  const bytes = mapping.bytes.subarray(0, size);
  return ctx.platform.capabilities.dmabufExport
    ? { domid: ctx.domid, size, bytes, retain, exportDmaBuf: () => ctx.platform.exportDmaBuf(ctx.domid, mapping.refs) }
    : { domid: ctx.domid, size, bytes, retain };
}
