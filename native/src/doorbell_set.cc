// A set of doorbells read as one descriptor: the simulator's stand-in for /dev/xen/evtchn, whose
// one read returns every pending port. An epoll instance holds each doorbell (a FIFO) with its
// port number; taking from the set drains every readable doorbell and reports its port, so a
// process pays one wake-up and one call for all the ports that became pending together.
#include <sys/epoll.h>
#include <unistd.h>
#include <cerrno>
#include "errors.h"
#include "registry.h"
#include "stats.h"

namespace vdispl {
namespace {

constexpr int kMaxTake = 256;
// Reads per doorbell per take: a pipe holds 64 KiB, so this empties one that nobody is writing
// to, while a peer that keeps writing (a hostile guest) cannot hold the caller in the loop; what
// it wrote since stays readable and comes back as the port's next event.
constexpr int kMaxDrainReads = 16;

// doorbellSetCreate() -> descriptor (counted in deviceFds; close with closeDevice).
Napi::Value Create(const Napi::CallbackInfo& info) {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "epoll_create1", errno);
  counters().deviceFds++;
  return Napi::Number::New(info.Env(), fd);
}

// doorbellSetAdd(set, doorbellFd, port): the port is reported when the doorbell is readable.
Napi::Value Add(const Napi::CallbackInfo& info) {
  int set = ArgFd(info, 0, "set");
  int fd = ArgFd(info, 1, "doorbell");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  // Both in the event: a doorbell leaves the set (remove) before its descriptor closes, and
  // epoll_wait reports only what is in the set when it is called, so the pair is never stale.
  ev.data.u64 = (static_cast<uint64_t>(static_cast<uint32_t>(fd)) << 32) | ArgU32(info, 2, "port");
  if (::epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) != 0) ThrowErrno(info.Env(), "epoll_ctl(ADD)", errno);
  return info.Env().Undefined();
}

Napi::Value Remove(const Napi::CallbackInfo& info) {
  int set = ArgFd(info, 0, "set");
  int fd = ArgFd(info, 1, "doorbell");
  if (::epoll_ctl(set, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT)
    ThrowErrno(info.Env(), "epoll_ctl(DEL)", errno);
  return info.Env().Undefined();
}

// doorbellSetTake(set, ports: Uint32Array) -> n: the ports whose doorbells were readable, each
// drained, written to ports[0..n). Never blocks.
Napi::Value Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int set = ArgFd(info, 0, "set");
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "doorbellSetTake(set, Uint32Array)");
  Napi::Uint32Array out = info[1].As<Napi::Uint32Array>();
  int cap = static_cast<int>(out.ElementLength() < static_cast<size_t>(kMaxTake) ? out.ElementLength() : kMaxTake);
  if (cap == 0) return Napi::Number::New(env, 0);
  struct epoll_event evs[kMaxTake];
  int n;
  do n = ::epoll_wait(set, evs, cap, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "epoll_wait", errno);
  char sink[4096];
  for (int i = 0; i < n; i++) {
    out[i] = static_cast<uint32_t>(evs[i].data.u64);
    int fd = static_cast<int>(evs[i].data.u64 >> 32);
    ssize_t got;
    int reads = 0;
    do got = ::read(fd, sink, sizeof sink);
    while (++reads < kMaxDrainReads && (got == static_cast<ssize_t>(sizeof sink) || (got < 0 && errno == EINTR)));
  }
  return Napi::Number::New(env, n);
}

// doorbellRing(fd): one byte into a doorbell. A full pipe is a port already pending (not an error);
// a doorbell nobody holds any more (EPIPE cannot happen: every holder opens it read-write) likewise.
Napi::Value Ring(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "doorbell");
  static const char kByte = 1;
  ssize_t n;
  do n = ::write(fd, &kByte, 1);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ThrowErrno(info.Env(), "write (doorbell)", errno);
  return info.Env().Undefined();
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("doorbellRing", Napi::Function::New(env, Ring, "doorbellRing"));
  exports.Set("doorbellSetCreate", Napi::Function::New(env, Create, "doorbellSetCreate"));
  exports.Set("doorbellSetAdd", Napi::Function::New(env, Add, "doorbellSetAdd"));
  exports.Set("doorbellSetRemove", Napi::Function::New(env, Remove, "doorbellSetRemove"));
  exports.Set("doorbellSetTake", Napi::Function::New(env, Take, "doorbellSetTake"));
});

}  // namespace
}  // namespace vdispl
