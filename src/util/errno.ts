// The daemon's one errno table and the one error class that carries an errno. Every failure a
// guest may be told about (a platform call, an output, a page directory) is an ErrnoError with a
// positive Linux errno; src/displif/status.ts turns it into a response status, where Xen's own
// numbers (xen/errno.h, equal to Linux's for every name Xen defines) decide what goes on the wire.

/** Linux errno values (asm-generic/errno*.h: the same on x86 and Arm), the ones this code names. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
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
  EFBIG: 27,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
} as const;
export type ErrnoName = keyof typeof Errno;

const NAMES: ReadonlyMap<number, ErrnoName> = new Map(Object.entries(Errno).map(([name, n]) => [n, name as ErrnoName]));

/** "EINVAL" for 22 or -22; undefined for a number the table does not name. */
export function errnoName(errno: number): ErrnoName | undefined {
  return NAMES.get(Math.abs(errno));
}

/** A failure that carries the errno a caller (ultimately a guest's response) is told. */
export class ErrnoError extends Error {
  /** Positive errno. */
  readonly errno: number;

  constructor(message: string, errno: number) {
    super(message);
    // A failure being reported must not become another one: a number that is no errno is EIO.
    this.errno = Number.isInteger(errno) && errno > 0 ? errno : Errno.EIO;
    this.name = new.target.name;
  }
}
