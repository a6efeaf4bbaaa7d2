// The one place a failure becomes a response's status (0 or -XEN_Exx). The errno comes from the
// error itself: an ErrnoError (every seam's failure), or an error the native addon made (the C++
// side cannot extend a JavaScript class; isNativeError is that boundary's one check). Xen defines
// fewer errnos than Linux: one it does not define (ENOTTY, say) is answered as -XEN_EIO, so a
// guest only ever sees Xen's numbers. Anything else, a bug included, is -XEN_EIO too: the guest
// learns that the request failed, never why in our terms, and no exception escapes.
import { isNativeError } from '../native/errors.js';
import { ErrnoError } from '../util/errno.js';
import { XEN_EIO, isXenErrno } from './constants.js';

/** The status for a positive (or negated) errno: its negation where Xen defines it, else -XEN_EIO. */
export function xenStatus(errno: number): number {
  const e = Math.abs(errno);
  return isXenErrno(e) ? -e : -XEN_EIO;
}

/** The status a request that failed with `err` is answered with. */
export function statusOf(err: unknown): number {
  if (err instanceof ErrnoError || isNativeError(err)) return xenStatus(err.errno);
  return -XEN_EIO;
}
