// Reading and writing a frontend's page directories through the platform seam. A directory page is
// copied once into private memory before anything is read from it (by a grant copy where the
// platform has one, else mapped, copied and unmapped), so the guest cannot change a link between
// our check and our use of it.
import { allZero, readU32 } from '../../displif/bytes.js';
import { GREFS_PER_DIR_PAGE, PAGE_SIZE, XEN_EINVAL } from '../../displif/constants.js';
import {
  PageDirectoryError,
  directoryPageCount,
  fillPageDirectory,
  walkPageDirectory,
} from '../../displif/page-directory.js';
import { PAGE_DIR } from '../../displif/wire-layout.js';
import { grantRefsOf, type DomId, type GrantRef, type GrantRefs } from '../../util/ids.js';
import type { GrantMapping, XenPlatform } from '../../xen/platform.js';

/**
 * The `nRefs` buffer refs listed by the directory at `firstRef`. The walk reads exactly the pages
 * `nRefs` needs; a directory that lists more than that (a link or a ref after the last one on the
 * last page: frontends zero their directory pages) is refused like one that lists fewer.
 */
export async function readDirectory(
  platform: XenPlatform,
  domid: DomId,
  firstRef: GrantRef,
  nRefs: number,
): Promise<GrantRefs> {
  let last: Uint8Array | undefined;
  const refs = await walkPageDirectory(firstRef, nRefs, async (ref) => {
    if (platform.copyFromGrant) {
      // A grant copy is already private memory: no mapping to make, touch and tear down.
      last = await platform.copyFromGrant(domid, ref, PAGE_SIZE);
      return last;
    }
    const m = await platform.mapGrants(domid, grantRefsOf([ref]), { writable: false });
    try {
      last = m.bytes.slice(0, PAGE_SIZE);
      return last;
    } finally {
      m.close();
    }
  });
  const onLast = nRefs - (directoryPageCount(nRefs) - 1) * GREFS_PER_DIR_PAGE;
  if (
    last &&
    (readU32(last, PAGE_DIR.gref_dir_next_page) !== 0 || !allZero(last, PAGE_DIR.gref + 4 * onLast, PAGE_SIZE))
  ) {
    throw new PageDirectoryError(
      `page directory lists more than the ${nRefs} refs buffer_sz needs`,
      XEN_EINVAL,
      'bad-count',
    );
  }
  return refs;
}

/**
 * be-alloc: writes `bufferRefs` into the frontend's directory pages (mapped writable, one at a
 * time; the walker reads each link once and checks it before following it).
 */
export async function writeDirectory(
  platform: XenPlatform,
  domid: DomId,
  firstRef: GrantRef,
  bufferRefs: GrantRefs,
): Promise<void> {
  let current: GrantMapping | undefined;
  try {
    await fillPageDirectory(firstRef, bufferRefs, async (ref) => {
      current?.close();
      current = undefined;
      current = await platform.mapGrants(domid, grantRefsOf([ref]), { writable: true });
      return current.bytes.subarray(0, PAGE_SIZE);
    });
  } finally {
    current?.close();
  }
}
