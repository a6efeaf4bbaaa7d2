#include "errors.h"

#include <cstring>

namespace vdispl {

// glibc (2.32 and later) knows every errno's symbolic name; errors cross the seam by that name.
const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

}  // namespace vdispl
