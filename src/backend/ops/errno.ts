// Turns a failure from a seam into the negative Xen errno a response carries. Anything unknown is
// -EIO: the guest learns that it failed, never why in our terms, and no exception escapes.
import { XEN_EIO } from '../../displif/constants.js';
import { PageDirectoryError } from '../../displif/page-directory.js';
import { PlatformError } from '../../xen/platform.js';

export function statusOf(err: unknown): number {
  if (err instanceof PageDirectoryError) return err.errno < 0 ? err.errno : -err.errno;
  if (err instanceof PlatformError) return err.errno > 0 ? -err.errno : -XEN_EIO;
  if (err !== null && typeof err === 'object' && 'errno' in err) {
    const e = (err as { errno: unknown }).errno;
    if (typeof e === 'number' && Number.isInteger(e) && e !== 0 && Math.abs(e) < 4096) return -Math.abs(e);
  }
  return -XEN_EIO;
}
