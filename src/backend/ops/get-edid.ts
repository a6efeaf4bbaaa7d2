// GET_EDID (protocol version 2): an EDID for the connector's resolution, written into the
// frontend's buffer through its page directory. Only the pages the EDID occupies are mapped.
import { PAGE_SIZE } from '../../displif/constants.js';
import { buildEdid } from '../../displif/edid.js';
import { bufferPageCount, type GetEdid } from '../../displif/requests.js';
import type { ConnectorState, DeviceContext, OpResult } from './context.js';
import { statusOf } from '../../displif/status.js';
import { readDirectory } from './guest-pages.js';
import { grantRefs } from '../../util/ids.js';

/** The EDID a connector reports: its resolution at 60 Hz, a serial per domain and connector. */
export function connectorEdid(ctx: DeviceContext, conn: ConnectorState): Uint8Array {
  return buildEdid({
    width: conn.resolution.width,
    height: conn.resolution.height,
    serial: ((ctx.domid & 0xffffff) << 8) | (conn.index & 0xff),
  });
}

export async function getEdid(ctx: DeviceContext, conn: ConnectorState, req: GetEdid): Promise<OpResult> {
  try {
    const edid = connectorEdid(ctx, conn);
    const refs = await readDirectory(ctx.platform, ctx.domid, req.grefDirectory, bufferPageCount(req.bufferSz));
    const used = grantRefs(refs.subarray(0, Math.ceil(edid.length / PAGE_SIZE)));
    const m = await ctx.platform.mapGrants(ctx.domid, used, { writable: true });
    try {
      m.bytes.set(edid, 0);
    } finally {
      m.close();
    }
    return { status: 0, edidSz: edid.length };
  } catch (err) {
    return { status: statusOf(err) };
  }
}
