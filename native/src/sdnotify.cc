// sd_notify(3) without libsystemd: one datagram of "KEY=VALUE\n" lines to the unix socket systemd
// named in $NOTIFY_SOCKET ('@' = abstract namespace). Plus a bound datagram socket to receive them,
// so tests and the e2e harness can play systemd's part.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstddef>
#include <cstring>
#include "device.h"
#include "registry.h"

namespace vdispl {
namespace {

socklen_t FillAddress(Napi::Env env, const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path || (path[0] != '/' && path[0] != '@'))
    throw Napi::RangeError::New(env, "NOTIFY_SOCKET must be an absolute path or @abstract name shorter than 108 bytes");
  std::memcpy(addr->sun_path, path.data(), path.size());
  if (path[0] == '@') addr->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
}

// sdNotify(socketPath, message): sends one datagram; throws with the socket named on failure.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "socketPath");
  std::string msg = ArgString(info, 1, "message");
  sockaddr_un addr;
  socklen_t alen = FillAddress(env, path, &addr);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowDevice(env, "NOTIFY_SOCKET " + path, "socket", errno, "notify");
  ssize_t n;
  do n = ::sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), alen);
  while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) ThrowDevice(env, "NOTIFY_SOCKET " + path, "sendto", err, "notify");
  return env.Undefined();
}

// bindNotifySocket(path) -> fd of a non-blocking datagram socket bound at path (read it with
// readFd after a poller says readable; close it with closeDevice).
Napi::Value BindNotifySocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  sockaddr_un addr;
  socklen_t alen = FillAddress(env, path, &addr);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowDevice(env, path, "socket", errno);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) < 0) {
    int err = errno;
    ::close(fd);
    ThrowDevice(env, path, "bind", err);
  }
  counters().deviceFds++;
  return Napi::Number::New(env, fd);
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  exports.Set("bindNotifySocket", Napi::Function::New(env, BindNotifySocket, "bindNotifySocket"));
});

}  // namespace
}  // namespace vdispl
