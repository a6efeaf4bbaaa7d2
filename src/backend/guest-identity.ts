// Who a guest is, by what the guest cannot write: its domid, and the name and UUID the toolstack
// recorded for it. libxl writes /local/domain/<domid>/name and /local/domain/<domid>/vm (= /vm/<uuid>)
// owned by dom0 with read-only access for the guest; the guest's own device directories, by
// contrast, are the guest's to rewrite. Each node is believed only while no domain but dom0 and the
// backend's own may write it, so a toolstack that left one writable cannot let a guest name itself
// after another.
import type { DomId } from '../util/ids.js';
import { foreignWriter } from '../xenstore/perms.js';
import { XenStoreError, type XsOps, type XsPerm } from '../xenstore/types.js';

export interface GuestIdentity {
  readonly domid: DomId;
  /** The domain's name, when dom0 owns the node. */
  readonly name?: string;
  /** The domain's UUID in lower case, when dom0 owns the node. */
  readonly uuid?: string;
}

const VM_RE = /^\/vm\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
/** libxl's names are short; a longer value is no name a mapping could give. */
const MAX_NAME = 64;

async function permsOf(xs: XsOps, path: string): Promise<XsPerm[] | undefined> {
  try {
    return await xs.getPerms(path);
  } catch (err) {
    if (err instanceof XenStoreError && err.xsError === 'ENOENT') return undefined;
    throw err;
  }
}

/** One node's value, when it exists and only trusted domains may write it (see foreignWriter). */
async function trustedValue(
  xs: XsOps,
  path: string,
  backendDomid: number,
): Promise<{ value?: string; distrust?: string }> {
  const [value, perms] = await Promise.all([xs.tryRead(path), permsOf(xs, path)]);
  if (value === undefined || perms === undefined) return {};
  const why = foreignWriter(perms, backendDomid);
  return why === undefined ? { value } : { distrust: `${path}: ${why}` };
}

/**
 * Reads the guest's name and UUID. `distrusted` lists nodes present but writable by another
 * domain (ignored, for one log line).
 */
export async function readGuestIdentity(
  xs: XsOps,
  domid: DomId,
  backendDomid: number,
): Promise<{ identity: GuestIdentity; distrusted: string[] }> {
  const home = `/local/domain/${domid}`;
  const [name, vm] = await Promise.all([
    trustedValue(xs, `${home}/name`, backendDomid),
    trustedValue(xs, `${home}/vm`, backendDomid),
  ]);
  const distrusted = [name.distrust, vm.distrust].filter((d): d is string => d !== undefined);
  const uuid = vm.value !== undefined ? VM_RE.exec(vm.value)?.[1]?.toLowerCase() : undefined;
  const okName =
    name.value !== undefined && name.value.length > 0 && name.value.length <= MAX_NAME ? name.value : undefined;
  return {
    identity: { domid, name: okName, uuid },
    distrusted,
  };
}
