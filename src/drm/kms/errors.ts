// The errno-carrying failure the Output seam promises (setConfig rejects with it), so the backend
// can answer the guest with -errno.
export class KmsError extends Error {
  constructor(
    message: string,
    /** Positive errno. */
    readonly errno: number,
  ) {
    super(message);
    this.name = 'KmsError';
  }
}

export const EINVAL = 22;
export const ENODEV = 19;
export const EIO = 5;
export const EACCES = 13;
export const EPERM = 1;
