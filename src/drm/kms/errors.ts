// The KMS outputs' failures are the Output seam's OutputError (setConfig rejects with it, so the
// backend can answer the guest with -errno); the errno numbers are the one table's.
import { Errno } from '../../util/errno.js';

export { OutputError as KmsError } from '../output.js';

export const { EINVAL, ENODEV, EIO, EACCES, EPERM } = Errno;
