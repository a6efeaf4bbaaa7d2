#include "errors.h"

namespace vdispl {

const char* ErrnoName(int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES)
    E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY)
    E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EPIPE) E(ERANGE) E(ENOSYS) E(ENOTSUP) E(ETIMEDOUT) E(ECONNREFUSED)
    E(ECONNRESET) E(ENOBUFS) E(EOVERFLOW) E(ENOTCONN) E(EALREADY) E(EINPROGRESS) E(EDEADLK)
#undef E
    default: return "EUNKNOWN";
  }
}

}  // namespace vdispl
