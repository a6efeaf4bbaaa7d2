// Errors thrown by the native addon carry structured fields; this is their type and a guard, so
// policy code can branch on errno without parsing messages.

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

/** errno of a native error, or undefined for anything else (a bug, a TypeError). */
export function errnoOf(err: unknown): number | undefined {
  return isNativeError(err) ? err.errno : undefined;
}

/** Linux errno values the policy code branches on (asm-generic/errno*.h; same on x86 and Arm). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;
