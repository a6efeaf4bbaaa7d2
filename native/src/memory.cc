// Shared-memory mechanism: map a file (a simulated guest's memory, a gntdev or gntalloc range, a
// dumb buffer) into this process and hand JavaScript a view of it, and access ring indices and
// slots with the ordering xen/io/ring.h prescribes.
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cstring>
#include "errors.h"
#include "mapping.h"
#include "registry.h"

namespace vdispl {
namespace {

// mapFd(fd, offset, length, writable) -> mapping. MAP_SHARED: the very same pages as the owner sees.
Napi::Value MapFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgI64(info, 0, "fd"));
  int64_t offset = ArgI64(info, 1, "offset");
  int64_t length = ArgI64(info, 2, "length");
  bool writable = info.Length() > 3 && info[3].ToBoolean().Value();
  if (offset < 0 || length <= 0) throw Napi::RangeError::New(env, "mapFd: bad offset or length");
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = mmap(nullptr, static_cast<size_t>(length), prot, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) ThrowErrno(env, "mmap", errno);
  return WrapMapping(env, p, static_cast<size_t>(length));
}

// mapAnonymous(length) -> mapping of private zeroed pages (page-aligned, for ring tests and scratch).
Napi::Value MapAnonymous(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t length = ArgI64(info, 0, "length");
  if (length <= 0) throw Napi::RangeError::New(env, "mapAnonymous: bad length");
  void* p = mmap(nullptr, static_cast<size_t>(length), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) ThrowErrno(env, "mmap", errno);
  return WrapMapping(env, p, static_cast<size_t>(length));
}

// Index reads pair with the producer's write barrier: acquire, then the slots are safe to read.
Napi::Value Load32Acquire(const Napi::CallbackInfo& info) {
  uint32_t off = ArgU32(info, 1, "offset");
  if (off % 4) throw Napi::RangeError::New(info.Env(), "load32Acquire: unaligned");
  auto* p = reinterpret_cast<uint32_t*>(ArgBytes(info, 0, off, 4, "load32Acquire"));
  return Napi::Number::New(info.Env(), __atomic_load_n(p, __ATOMIC_ACQUIRE));
}

// Index publication: every slot write before it is visible first (xen_wmb then the store).
Napi::Value Store32Release(const Napi::CallbackInfo& info) {
  uint32_t off = ArgU32(info, 1, "offset");
  uint32_t v = ArgU32(info, 2, "value");
  if (off % 4) throw Napi::RangeError::New(info.Env(), "store32Release: unaligned");
  auto* p = reinterpret_cast<uint32_t*>(ArgBytes(info, 0, off, 4, "store32Release"));
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
  return info.Env().Undefined();
}

// xen_mb(): the full barrier RING_FINAL_CHECK_FOR_REQUESTS and the notify checks need between
// writing an event index and re-reading the producer index.
Napi::Value FullBarrier(const Napi::CallbackInfo& info) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return info.Env().Undefined();
}

// copyOut(src, srcOff, dst, dstOff, len): one read of shared memory into private memory
// (RING_COPY_REQUEST). The compiler may not re-read the source: it is read through a volatile
// pointer exactly once per byte-group, and the copy is what gets validated.
Napi::Value CopyOut(const Napi::CallbackInfo& info) {
  uint32_t srcOff = ArgU32(info, 1, "srcOff");
  uint32_t dstOff = ArgU32(info, 3, "dstOff");
  uint32_t len = ArgU32(info, 4, "len");
  const uint8_t* src = ArgBytes(info, 0, srcOff, len, "copyOut src");
  uint8_t* dst = ArgBytes(info, 2, dstOff, len, "copyOut dst");
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  const volatile uint8_t* vs = src;
  for (uint32_t i = 0; i < len; i++) dst[i] = vs[i];
  return info.Env().Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mappings", Napi::Number::New(info.Env(), static_cast<double>(LiveMappings())));
  o.Set("mappedBytes", Napi::Number::New(info.Env(), static_cast<double>(LiveMappedBytes())));
  return o;
}

Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(sysconf(_SC_PAGESIZE)));
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("mapFd", Napi::Function::New(env, MapFd, "mapFd"));
  exports.Set("mapAnonymous", Napi::Function::New(env, MapAnonymous, "mapAnonymous"));
  exports.Set("load32Acquire", Napi::Function::New(env, Load32Acquire, "load32Acquire"));
  exports.Set("store32Release", Napi::Function::New(env, Store32Release, "store32Release"));
  exports.Set("fullBarrier", Napi::Function::New(env, FullBarrier, "fullBarrier"));
  exports.Set("copyOut", Napi::Function::New(env, CopyOut, "copyOut"));
  exports.Set("memoryStats", Napi::Function::New(env, Stats, "memoryStats"));
  exports.Set("pageSize", Napi::Function::New(env, PageSize, "pageSize"));
});

}  // namespace
}  // namespace vdispl
