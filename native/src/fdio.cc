// Plain descriptor I/O for character devices and sockets driven by a poller: open a device with
// an error that names it, and read/write that report "would block" as a value instead of throwing,
// because after a readiness callback that is an ordinary outcome, not an error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "device.h"
#include "registry.h"

namespace vdispl {
namespace {

// openDevice(path, writable, nonblocking, kind?) -> fd. Counted in nativeResources().deviceFds until
// closeDevice(fd). `kind` ("xenbus", ...) selects the advice on failure.
Napi::Value OpenDeviceFd(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  bool writable = info.Length() > 1 && info[1].ToBoolean().Value();
  bool nonblocking = info.Length() > 2 && info[2].ToBoolean().Value();
  std::string kind = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
  int flags = (writable ? O_RDWR : O_RDONLY) | (nonblocking ? O_NONBLOCK : 0) | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) ThrowDevice(info.Env(), path, "open", errno, kind);
  counters().deviceFds++;
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseDeviceFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (::close(fd) == 0 || errno == EINTR)
    counters().deviceFds--;
  else
    ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

// dupFd(fd) -> a new close-on-exec descriptor for the same open file, counted like openDevice's.
// For kernel bookkeeping keyed by fd number (gntdev imports), so the number is ours to keep.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int out = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (out < 0) ThrowErrno(info.Env(), "fcntl(F_DUPFD_CLOEXEC)", errno);
  counters().deviceFds++;
  return Napi::Number::New(info.Env(), out);
}

// readFd(fd, view, offset, length) -> bytes read (0 = end of file), or -EAGAIN when nothing is there.
Napi::Value ReadFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint32_t off = ArgU32(info, 2, "offset");
  uint32_t len = ArgU32(info, 3, "length");
  uint8_t* p = ArgBytes(info, 1, off, len, "readFd");
  ssize_t n;
  do n = ::read(fd, p, len);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -EAGAIN);
    ThrowErrno(info.Env(), "read", errno);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// writeFd(fd, view, offset, length) -> bytes written, or -EAGAIN when the device cannot take more now.
Napi::Value WriteFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint32_t off = ArgU32(info, 2, "offset");
  uint32_t len = ArgU32(info, 3, "length");
  const uint8_t* p = ArgBytes(info, 1, off, len, "writeFd");
  ssize_t n;
  do n = ::write(fd, p, len);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -EAGAIN);
    ThrowErrno(info.Env(), "write", errno);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// makeFifo(path, mode): a named pipe, which Node's fs cannot make. The simulator's event-channel
// doorbells are FIFOs: any process can open one by name and libuv polls it like a socket.
Napi::Value MakeFifo(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  uint32_t mode = ArgU32(info, 1, "mode");
  if (::mkfifo(path.c_str(), static_cast<mode_t>(mode & 07777)) != 0) ThrowErrno(info.Env(), "mkfifo " + path, errno);
  return info.Env().Undefined();
}

Napi::Value Resources(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Counters& c = counters();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<int64_t>& v) {
    o.Set(k, Napi::Number::New(env, static_cast<double>(v.load())));
  };
  set("deviceFds", c.deviceFds);
  set("grantMappings", c.grantMappings);
  set("grantMappedPages", c.grantMappedPages);
  set("exportedDmabufs", c.exportedDmabufs);
  set("importedDmabufs", c.importedDmabufs);
  set("grantAllocs", c.grantAllocs);
  set("grantAllocPages", c.grantAllocPages);
  set("evtchnBindings", c.evtchnBindings);
  set("pollers", c.pollers);
  set("drmDumbBuffers", c.drmDumbBuffers);
  set("drmFramebuffers", c.drmFramebuffers);
  set("drmBlobs", c.drmBlobs);
  return o;
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("openDevice", Napi::Function::New(env, OpenDeviceFd, "openDevice"));
  exports.Set("closeDevice", Napi::Function::New(env, CloseDeviceFd, "closeDevice"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("readFd", Napi::Function::New(env, ReadFd, "readFd"));
  exports.Set("writeFd", Napi::Function::New(env, WriteFd, "writeFd"));
  exports.Set("makeFifo", Napi::Function::New(env, MakeFifo, "makeFifo"));
  exports.Set("nativeResources", Napi::Function::New(env, Resources, "nativeResources"));
});

}  // namespace
}  // namespace vdispl
