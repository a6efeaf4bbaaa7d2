// Errors thrown by the native addon carry structured fields; this is their type and a guard, so
// policy code can branch on errno without parsing messages. The C++ side makes plain Errors (it
// cannot extend a JavaScript class), so the guard is the one place their shape is checked; the
// errno numbers themselves are named in src/util/errno.ts.

/** An error from a device call: "<device>: <call>: <strerror> (<CODE>)[ — <fix>]". */
export interface NativeDeviceError extends Error {
  /** Positive errno. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'ENOTTY'. */
  readonly code: string;
  /** The call that failed: 'open', 'IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS', 'drmModeSetCrtc', ... */
  readonly syscall: string;
  /** The device path (or socket) it failed on; absent for calls that have none. */
  readonly device?: string;
  /** What to do about it, for the well-known cases. */
  readonly hint?: string;
}

export function isNativeError(err: unknown): err is NativeDeviceError {
  return (
    err instanceof Error &&
    typeof (err as { errno?: unknown }).errno === 'number' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { syscall?: unknown }).syscall === 'string'
  );
}
