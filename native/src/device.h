// An open device node shared by its handle and everything derived from it. A gntdev mapping or a
// worker still running after the handle's close() keeps the descriptor (and so its kernel state)
// alive; the descriptor closes when the last user lets go, never under someone's feet, and its
// number cannot be reused while an ioctl could still target it.
#pragma once
#include <fcntl.h>
#include <unistd.h>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include "errors.h"
#include "stats.h"

namespace vdispl {

struct DeviceFd {
  DeviceFd(int f, std::string p, std::string k) : fd(f), path(std::move(p)), kind(std::move(k)) {
    counters().deviceFds++;
  }
  ~DeviceFd() {
    ::close(fd);
    counters().deviceFds--;
  }
  DeviceFd(const DeviceFd&) = delete;
  DeviceFd& operator=(const DeviceFd&) = delete;
  const int fd;
  const std::string path;
  const std::string kind;  // selects the advice in hints.cc
  [[noreturn]] void Throw(Napi::Env env, const std::string& call, int err) const {
    ThrowDevice(env, path, call, err, kind);
  }
  // Serialises operations whose kernel bookkeeping is keyed by fd number (gntdev dma-buf export
  // and wait), see gntdev.cc.
  std::mutex lock;
  // Descriptors this device handed out and still owns the release of (gntdev exports), so a
  // release can only ever close one of those, never an unrelated descriptor.
  std::mutex ownedLock;
  std::set<int> owned;
};

using DevicePtr = std::shared_ptr<DeviceFd>;

// open(2) with O_CLOEXEC; failures name the device and carry the fix (hints.cc).
inline DevicePtr OpenDevice(Napi::Env env, const std::string& path, int flags, const std::string& kind) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) ThrowDevice(env, path, "open", errno, kind);
  return std::make_shared<DeviceFd>(fd, path, kind);
}

// ioctl retried on EINTR; returns the ioctl's non-negative result or -errno.
long IoctlRetry(int fd, unsigned long request, void* arg);

}  // namespace vdispl
