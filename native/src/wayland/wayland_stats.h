// Live-resource counters of the Wayland module. It is a shared object of its own (only loaded for
// `--output wayland`), so it keeps its own counters and reports them through its resources().
#pragma once
#include <atomic>
#include <cstdint>

namespace vdispl {

struct WaylandCounters {
  std::atomic<int64_t> connections{0};  // wl_display connections not yet closed
  std::atomic<int64_t> windows{0};
  std::atomic<int64_t> shmPools{0};       // memfds behind wl_shm pools
  std::atomic<int64_t> dmabufBuffers{0};  // dma-buf wl_buffers (and their params) not yet destroyed
  std::atomic<int64_t> xdgOutputs{0};     // zxdg_output_v1 objects (one per wl_output) not yet destroyed
};

inline WaylandCounters& waylandCounters() {
  static WaylandCounters c;
  return c;
}

}  // namespace vdispl
