// Native device errors become PlatformErrors: the backend answers a guest with -errno and logs the
// message, which already names the device, the call and the fix (native/src/hints.cc).
import { isNativeError } from '../../native/errors.js';
import { PlatformError } from '../platform.js';
import { Errno } from '../../util/errno.js';

export function toPlatformError(err: unknown, what: string): PlatformError {
  if (err instanceof PlatformError) return err;
  if (isNativeError(err)) return new PlatformError(err.message, err.errno, err.code);
  const msg = err instanceof Error ? err.message : String(err);
  return new PlatformError(`${what}: ${msg}`, Errno.EIO, 'EIO');
}

/** Runs `fn`, turning anything it throws or rejects with into a PlatformError. */
export async function asPlatformError<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toPlatformError(err, what);
  }
}
