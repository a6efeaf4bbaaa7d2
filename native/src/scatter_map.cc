// Scatter mapping: any set of pages of a file, in any order, as one contiguous range of this
// process. This is what Linux's gntdev does for a grant map (the granted frames of a guest need
// not be consecutive, yet the backend gets one VA range); the simulated hypervisor's memory files
// use it to give the same promise. Everything is checked here, before any mmap: the offsets are
// copied once from the caller, each page must lie wholly inside the file (a page past EOF would
// raise SIGBUS on first touch instead of an error now).
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdint>
#include <string>
#include <vector>
#include "errors.h"
#include "mapping.h"
#include "registry.h"

namespace vdispl {
namespace {

// gntdev's own limit per map request; also bounds the VMAs one call can create.
constexpr size_t kMaxPages = 65536;

// mapFdPages(fd, pageOffsets: Uint32Array, writable) -> mapping of pageOffsets.length pages, page i
// being page pageOffsets[i] of fd. Runs of consecutive offsets share one mmap (and one VMA).
Napi::Value MapFdPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  std::vector<uint32_t> pages = ArgU32Array(info, 1, "pageOffsets");
  bool writable = info.Length() > 2 && info[2].ToBoolean().Value();
  if (pages.empty() || pages.size() > kMaxPages)
    throw Napi::RangeError::New(env, "mapFdPages: between 1 and " + std::to_string(kMaxPages) + " pages");

  const uint64_t ps = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, "fstat", errno);
  const uint64_t filePages = static_cast<uint64_t>(st.st_size) / ps;
  for (size_t i = 0; i < pages.size(); i++) {
    if (pages[i] >= filePages)
      throw Napi::RangeError::New(env, "mapFdPages: page " + std::to_string(pages[i]) + " (index " + std::to_string(i) +
                                           ") is beyond the file's " + std::to_string(filePages) + " pages");
  }

  const size_t len = pages.size() * ps;
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  bool oneRun = true;
  for (size_t i = 1; i < pages.size() && oneRun; i++) oneRun = pages[i] == pages[0] + i;
  if (oneRun) {
    // The usual case (a buffer allocated in one piece): one mmap, no reservation. Every mmap and
    // munmap of a multi-threaded process can cost a TLB shoot-down, so each one saved counts.
    void* p = mmap(nullptr, len, prot, MAP_SHARED, fd, static_cast<off_t>(pages[0] * ps));
    if (p == MAP_FAILED) ThrowErrno(env, "mmap", errno);
    return WrapMapping(env, p, len);
  }
  // Reserve the whole range first so the pieces land side by side and nothing else can be placed
  // in the gaps between the MAP_FIXED calls.
  void* base = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) ThrowErrno(env, "mmap (reserve)", errno);
  auto* at = static_cast<uint8_t*>(base);
  for (size_t i = 0; i < pages.size();) {
    size_t run = 1;
    while (i + run < pages.size() && pages[i + run] == pages[i] + run) run++;
    void* p = mmap(at + i * ps, run * ps, prot, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(pages[i] * ps));
    if (p == MAP_FAILED) {
      int err = errno;
      munmap(base, len);
      ThrowErrno(env, "mmap (MAP_FIXED)", err);
    }
    i += run;
  }
  // One munmap of the whole range removes every piece: the usual idempotent unmap applies.
  return WrapMapping(env, base, len);
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("mapFdPages", Napi::Function::New(env, MapFdPages, "mapFdPages"));
});

}  // namespace
}  // namespace vdispl
