// Reading and writing a frontend's page directories through the platform seam. A directory page is
// mapped, copied once into private memory and unmapped before anything is read from it, so the
// guest cannot change a link between our check and our use of it.
import { PAGE_SIZE } from '../../displif/constants.js';
import { fillPageDirectory, walkPageDirectory } from '../../displif/page-directory.js';
import type { DomId, GrantRef } from '../../util/ids.js';
import type { GrantMapping, XenPlatform } from '../../xen/platform.js';

/** The `nRefs` buffer refs listed by the directory at `firstRef`. */
export function readDirectory(platform: XenPlatform, domid: DomId, firstRef: GrantRef, nRefs: number): Promise<GrantRef[]> {
  return walkPageDirectory(firstRef, nRefs, async (ref) => {
    const m = await platform.mapGrants(domid, [ref], { writable: false });
    try {
      return m.bytes.slice(0, PAGE_SIZE);
    } finally {
      m.close();
    }
  });
}

/**
 * be-alloc: writes `bufferRefs` into the frontend's directory pages (mapped writable, one at a
 * time; the walker reads each link once and checks it before following it).
 */
export async function writeDirectory(platform: XenPlatform, domid: DomId, firstRef: GrantRef, bufferRefs: readonly GrantRef[]): Promise<void> {
  let current: GrantMapping | undefined;
  try {
    await fillPageDirectory(firstRef, bufferRefs, async (ref) => {
      current?.close();
      current = undefined;
      current = await platform.mapGrants(domid, [ref], { writable: true });
      return current.bytes.subarray(0, PAGE_SIZE);
    });
  } finally {
    current?.close();
  }
}
