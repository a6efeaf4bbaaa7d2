#include "device.h"
#include <sys/ioctl.h>

namespace vdispl {

long IoctlRetry(int fd, unsigned long request, void* arg) {
  for (;;) {
    int r = ::ioctl(fd, request, arg);
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace vdispl
