// Live-resource counters, one per kind of kernel object the addon hands out. Tests read them
// (nativeResources()) to prove that a tear-down left nothing behind.
#pragma once
#include <atomic>
#include <cstdint>

namespace vdispl {

struct Counters {
  std::atomic<int64_t> deviceFds{0};      // open /dev/xen/* and /dev/dri/* descriptors
  std::atomic<int64_t> grantMappings{0};  // gntdev MAP_GRANT_REF ranges not yet unmapped
  std::atomic<int64_t> grantMappedPages{0};
  std::atomic<int64_t> exportedDmabufs{0};  // EXP_FROM_REFS fds not yet released
  std::atomic<int64_t> importedDmabufs{0};  // IMP_TO_REFS imports not yet released
  std::atomic<int64_t> grantAllocs{0};      // gntalloc ranges not yet deallocated
  std::atomic<int64_t> grantAllocPages{0};
  std::atomic<int64_t> evtchnBindings{0};
  std::atomic<int64_t> pollers{0};  // uv_poll handles not yet closed
  std::atomic<int64_t> drmDumbBuffers{0};
  std::atomic<int64_t> drmFramebuffers{0};
  std::atomic<int64_t> drmBlobs{0};
};

inline Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace vdispl
