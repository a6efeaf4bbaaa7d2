// /dev/xen/gntdev: map another domain's grants into this process, and (where the kernel has
// CONFIG_XEN_GNTDEV_DMABUF) turn grants into a dma-buf or a dma-buf into grants. Mechanism only:
// which path a buffer takes is decided in TypeScript.
//
// The variable-length ioctls encode sizeof(struct) with refs[1] in their number, but the kernel
// reads header + count entries: the buffer we pass is built for `count`, never from the struct.
#include <sys/mman.h>
#include <unistd.h>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>
#include "xen_uapi.h"
#include "device.h"
#include "mapping.h"
#include "registry.h"
#include "worker.h"

namespace vdispl {
namespace {

constexpr size_t kPage = 4096;  // XEN_PAGE_SIZE; displif and gntdev count 4 KiB frames.
// Above gntdev's default per-request limit (65536) the kernel refuses anyway; this bound only keeps
// a wrong count from making us allocate a huge ioctl buffer.
constexpr uint32_t kMaxCount = 1u << 20;

// The layouts this file relies on, checked by the compiler against the installed UAPI header.
static_assert(offsetof(struct ioctl_gntdev_map_grant_ref, refs) == 16, "map header is 16 bytes");
static_assert(sizeof(struct ioctl_gntdev_grant_ref) == 8, "map entry is {domid, ref}");
static_assert(offsetof(struct ioctl_gntdev_dmabuf_exp_from_refs, refs) == 16, "export header is 16 bytes");
static_assert(offsetof(struct ioctl_gntdev_dmabuf_imp_to_refs, refs) == 16, "import header is 16 bytes");
static_assert(sizeof(struct ioctl_gntdev_dmabuf_exp_from_refs) == 20, "export ioctl number encodes refs[1]");
static_assert(sizeof(struct ioctl_gntdev_dmabuf_imp_to_refs) == 20, "import ioctl number encodes refs[1]");
static_assert(IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS == 0x00144709, "EXP_FROM_REFS number");
static_assert(IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED == 0x0008470a, "EXP_WAIT_RELEASED number");
static_assert(IOCTL_GNTDEV_DMABUF_IMP_TO_REFS == 0x0014470b, "IMP_TO_REFS number");
static_assert(IOCTL_GNTDEV_DMABUF_IMP_RELEASE == 0x0008470c, "IMP_RELEASE number");
static_assert(IOCTL_GNTDEV_MAP_GRANT_REF == 0x00184700, "MAP_GRANT_REF number");
static_assert(IOCTL_GNTDEV_UNMAP_GRANT_REF == 0x00104701, "UNMAP_GRANT_REF number");

// Variable-length ioctl argument: header + count * entry bytes, 8-byte aligned, zeroed.
class IoctlBuffer {
 public:
  IoctlBuffer(size_t header, size_t entry, uint32_t count, size_t minimum)
      : words_((std::max(header + entry * count, minimum) + 7) / 8, 0) {}
  template <typename T>
  T* As() {
    return reinterpret_cast<T*>(words_.data());
  }
  uint32_t* U32At(size_t off) { return reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(words_.data()) + off); }

 private:
  std::vector<uint64_t> words_;
};

void CheckCount(Napi::Env env, size_t count, const char* what) {
  if (count == 0 || count > kMaxCount) throw Napi::RangeError::New(env, std::string(what) + ": bad page count");
}

void UnmapGrants(const DevicePtr& dev, uint64_t index, uint32_t count) {
  struct ioctl_gntdev_unmap_grant_ref op;
  std::memset(&op, 0, sizeof op);
  op.index = index;
  op.count = count;
  // Nothing useful can be done on failure here (the range is already munmapped); the kernel
  // releases the rest when the gntdev descriptor closes.
  IoctlRetry(dev->fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &op);
}

// MAP_GRANT_REF then mmap of the whole range. PROT_READ only makes gntdev map the grants
// read-only (GNTMAP_readonly), so a read-only grant can be mapped and we cannot scribble on it.
class MapWorker : public PromiseWorker {
 public:
  MapWorker(Napi::Env env, DevicePtr dev, uint32_t domid, std::vector<uint32_t> refs, bool writable)
      : PromiseWorker(env, "vdispld:gntdev-map"),
        dev_(std::move(dev)),
        domid_(domid),
        refs_(std::move(refs)),
        writable_(writable) {}

  void Execute() override {
    uint32_t n = static_cast<uint32_t>(refs_.size());
    IoctlBuffer buf(16, 8, n, sizeof(struct ioctl_gntdev_map_grant_ref));
    auto* op = buf.As<struct ioctl_gntdev_map_grant_ref>();
    op->count = n;
    for (uint32_t i = 0; i < n; i++) {
      *buf.U32At(16 + 8 * i) = domid_;
      *buf.U32At(16 + 8 * i + 4) = refs_[i];
    }
    long r = IoctlRetry(dev_->fd, IOCTL_GNTDEV_MAP_GRANT_REF, op);
    if (r < 0) return FailOn(dev_, "IOCTL_GNTDEV_MAP_GRANT_REF", static_cast<int>(-r));
    index_ = op->index;
    int prot = PROT_READ | (writable_ ? PROT_WRITE : 0);
    void* p = mmap(nullptr, kPage * n, prot, MAP_SHARED, dev_->fd, static_cast<off_t>(index_));
    if (p == MAP_FAILED) {
      int err = errno;
      UnmapGrants(dev_, index_, n);
      return FailOn(dev_, "mmap of mapped grants", err);
    }
    addr_ = p;
  }

  Napi::Value Result(Napi::Env env) override {
    uint32_t n = static_cast<uint32_t>(refs_.size());
    counters().grantMappings++;
    counters().grantMappedPages += n;
    DevicePtr dev = dev_;
    uint64_t index = index_;
    return WrapMapping(env, addr_, kPage * n, [dev, index, n]() {
      UnmapGrants(dev, index, n);
      counters().grantMappings--;
      counters().grantMappedPages -= n;
    });
  }

 private:
  DevicePtr dev_;
  uint32_t domid_;
  std::vector<uint32_t> refs_;
  bool writable_;
  uint64_t index_ = 0;
  void* addr_ = nullptr;
};

// DMABUF_EXP_FROM_REFS, serialised with releases on this descriptor (see ReleaseExportWorker).
class ExportWorker : public PromiseWorker {
 public:
  ExportWorker(Napi::Env env, DevicePtr dev, uint32_t domid, std::vector<uint32_t> refs, uint32_t flags)
      : PromiseWorker(env, "vdispld:gntdev-export"),
        dev_(std::move(dev)),
        domid_(domid),
        refs_(std::move(refs)),
        flags_(flags) {}

  void Execute() override {
    uint32_t n = static_cast<uint32_t>(refs_.size());
    IoctlBuffer buf(16, 4, n, sizeof(struct ioctl_gntdev_dmabuf_exp_from_refs));
    auto* op = buf.As<struct ioctl_gntdev_dmabuf_exp_from_refs>();
    op->flags = flags_;
    op->count = n;
    op->domid = domid_;
    std::memcpy(buf.U32At(16), refs_.data(), 4 * n);
    std::lock_guard<std::mutex> guard(dev_->lock);
    long r = IoctlRetry(dev_->fd, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, op);
    if (r < 0) return FailOn(dev_, "IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS", static_cast<int>(-r));
    fd_ = static_cast<int>(op->fd);
    std::lock_guard<std::mutex> owned(dev_->ownedLock);
    dev_->owned.insert(fd_);
  }

  Napi::Value Result(Napi::Env env) override {
    counters().exportedDmabufs++;
    return Napi::Number::New(env, fd_);
  }

 private:
  DevicePtr dev_;
  uint32_t domid_;
  std::vector<uint32_t> refs_;
  uint32_t flags_;
  int fd_ = -1;
};

// Gives up our reference to an exported dma-buf and waits until every importer has too, so the
// grants are unmapped when the promise settles ('released'), or not yet ('timeout').
//
// gntdev finds the export to wait for by the fd *number* recorded at export time. If we closed the
// fd and a concurrent export on this gntdev got the same number before our wait looked it up, we
// would wait for the wrong buffer. So the number stays reserved: under the same lock exports take,
// the dma-buf fd is replaced by a /dev/null placeholder (dup3 drops our dma-buf reference
// atomically); the wait runs without the lock, and the placeholder is closed after it.
class ReleaseExportWorker : public PromiseWorker {
 public:
  ReleaseExportWorker(Napi::Env env, DevicePtr dev, int fd, uint32_t waitMs)
      : PromiseWorker(env, "vdispld:gntdev-wait-released"), dev_(std::move(dev)), fd_(fd), waitMs_(waitMs) {}

  void Execute() override {
    {
      std::lock_guard<std::mutex> guard(dev_->lock);
      // The fd is ours from the moment releaseExported() took it out of the owned set: every path
      // out of here closes it. Without a placeholder the number cannot be held for the wait, so
      // the dma-buf is closed without waiting (its grants go when the last importer lets go) and
      // the failure is reported; the export count goes down with the fd, never without it.
      int placeholder = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (placeholder < 0) {
        int err = errno;
        ::close(fd_);
        return FailOn(dev_, "open /dev/null placeholder (dma-buf closed without waiting)", err);
      }
      int r = ::dup3(placeholder, fd_, O_CLOEXEC);
      int err = errno;
      ::close(placeholder);
      if (r < 0) {
        ::close(fd_);
        return FailOn(dev_, "dup3 placeholder over dma-buf fd (dma-buf closed without waiting)", err);
      }
    }
    struct ioctl_gntdev_dmabuf_exp_wait_released op;
    op.fd = static_cast<uint32_t>(fd_);
    op.wait_to_ms = waitMs_;
    long r = IoctlRetry(dev_->fd, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, &op);
    ::close(fd_);
    if (r == 0)
      outcome_ = "released";
    else if (r == -ETIMEDOUT)
      outcome_ = "timeout";
    else if (r == -ENOENT)
      outcome_ = "released";  // already gone: the kernel says not to treat it as an error
    else
      FailOn(dev_, "IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED", static_cast<int>(-r));
  }

  Napi::Value Result(Napi::Env env) override {
    counters().exportedDmabufs--;
    return Napi::String::New(env, outcome_);
  }
  void Cleanup() override { counters().exportedDmabufs--; }

 private:
  DevicePtr dev_;
  int fd_;
  uint32_t waitMs_;
  const char* outcome_ = "released";
};

// DMABUF_IMP_TO_REFS: grant the pages of a dma-buf to `domid`. gntdev keeps its own reference to
// the dma-buf; the caller keeps the fd open until importRelease(fd), which gntdev looks up by number.
class ImportWorker : public PromiseWorker {
 public:
  ImportWorker(Napi::Env env, DevicePtr dev, int fd, uint32_t domid, uint32_t count)
      : PromiseWorker(env, "vdispld:gntdev-import"), dev_(std::move(dev)), fd_(fd), domid_(domid), count_(count) {}

  void Execute() override {
    IoctlBuffer buf(16, 4, count_, sizeof(struct ioctl_gntdev_dmabuf_imp_to_refs));
    auto* op = buf.As<struct ioctl_gntdev_dmabuf_imp_to_refs>();
    op->fd = static_cast<uint32_t>(fd_);
    op->count = count_;
    op->domid = domid_;
    op->reserved = 0;
    long r = IoctlRetry(dev_->fd, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, op);
    if (r < 0) return FailOn(dev_, "IOCTL_GNTDEV_DMABUF_IMP_TO_REFS", static_cast<int>(-r));
    refs_.assign(buf.U32At(16), buf.U32At(16) + count_);
  }

  Napi::Value Result(Napi::Env env) override {
    counters().importedDmabufs++;
    Napi::Uint32Array out = Napi::Uint32Array::New(env, refs_.size());
    std::memcpy(out.Data(), refs_.data(), 4 * refs_.size());
    return out;
  }

 private:
  DevicePtr dev_;
  int fd_;
  uint32_t domid_;
  uint32_t count_;
  std::vector<uint32_t> refs_;
};

class Gntdev : public Napi::ObjectWrap<Gntdev> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Gntdev",
                       {
                           InstanceAccessor<&Gntdev::Fd>("fd"),
                           InstanceAccessor<&Gntdev::Path>("path"),
                           InstanceMethod<&Gntdev::MapGrants>("mapGrants"),
                           InstanceMethod<&Gntdev::ExportDmabuf>("exportDmabuf"),
                           InstanceMethod<&Gntdev::ReleaseExported>("releaseExported"),
                           InstanceMethod<&Gntdev::ImportToRefs>("importToRefs"),
                           InstanceMethod<&Gntdev::ImportRelease>("importRelease"),
                           InstanceMethod<&Gntdev::ProbeDmabuf>("probeDmabuf"),
                           InstanceMethod<&Gntdev::Close>("close"),
                       });
  }

  explicit Gntdev(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Gntdev>(info) {
    std::string path = ArgString(info, 0, "path");
    dev_ = OpenDevice(info.Env(), path, O_RDWR, "gntdev");
  }

 private:
  const DevicePtr& Dev(Napi::Env env) {
    if (!dev_) throw Napi::Error::New(env, "gntdev: used after close()");
    return dev_;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), dev_ ? dev_->fd : -1); }
  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_()); }
  std::string path_() const { return dev_ ? dev_->path : std::string(); }

  // mapGrants(domid, refs: Uint32Array, writable) -> Promise<mapping>
  Napi::Value MapGrants(const Napi::CallbackInfo& info) {
    uint32_t domid = ArgU32(info, 0, "domid");
    std::vector<uint32_t> refs = ArgU32Array(info, 1, "refs");
    CheckCount(info.Env(), refs.size(), "mapGrants");
    bool writable = info.Length() > 2 && info[2].ToBoolean().Value();
    auto* w = new MapWorker(info.Env(), Dev(info.Env()), domid, std::move(refs), writable);
    return w->Queue();
  }

  // exportDmabuf(domid, refs: Uint32Array, flags) -> Promise<fd>
  Napi::Value ExportDmabuf(const Napi::CallbackInfo& info) {
    uint32_t domid = ArgU32(info, 0, "domid");
    std::vector<uint32_t> refs = ArgU32Array(info, 1, "refs");
    CheckCount(info.Env(), refs.size(), "exportDmabuf");
    uint32_t flags = info.Length() > 2 ? ArgU32(info, 2, "flags") : 0;
    auto* w = new ExportWorker(info.Env(), Dev(info.Env()), domid, std::move(refs), flags);
    return w->Queue();
  }

  // releaseExported(fd, waitMs) -> Promise<'released' | 'timeout'>; takes ownership of fd, which
  // must be one this gntdev exported and not yet released (anything else is refused untouched).
  Napi::Value ReleaseExported(const Napi::CallbackInfo& info) {
    int fd = ArgFd(info, 0, "fd");
    uint32_t waitMs = ArgU32(info, 1, "waitMs");
    const DevicePtr& dev = Dev(info.Env());
    {
      std::lock_guard<std::mutex> owned(dev->ownedLock);
      if (dev->owned.erase(fd) == 0)
        throw Napi::Error::New(info.Env(),
                               "releaseExported: fd " + std::to_string(fd) + " is not a dma-buf this gntdev exported");
    }
    auto* w = new ReleaseExportWorker(info.Env(), dev, fd, waitMs);
    return w->Queue();
  }

  // importToRefs(dmabufFd, domid, count) -> Promise<Uint32Array refs>
  Napi::Value ImportToRefs(const Napi::CallbackInfo& info) {
    int fd = ArgFd(info, 0, "dmabufFd");
    uint32_t domid = ArgU32(info, 1, "domid");
    uint32_t count = ArgU32(info, 2, "count");
    CheckCount(info.Env(), count, "importToRefs");
    auto* w = new ImportWorker(info.Env(), Dev(info.Env()), fd, domid, count);
    return w->Queue();
  }

  // importRelease(dmabufFd): ends the guest's access and drops gntdev's reference. Synchronous:
  // it does not wait for anything.
  Napi::Value ImportRelease(const Napi::CallbackInfo& info) {
    int fd = ArgFd(info, 0, "dmabufFd");
    const DevicePtr& dev = Dev(info.Env());
    struct ioctl_gntdev_dmabuf_imp_release op;
    op.fd = static_cast<uint32_t>(fd);
    op.reserved = 0;
    long r = IoctlRetry(dev->fd, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &op);
    if (r < 0) dev->Throw(info.Env(), "IOCTL_GNTDEV_DMABUF_IMP_RELEASE", static_cast<int>(-r));
    counters().importedDmabufs--;
    return info.Env().Undefined();
  }

  // probeDmabuf() -> { exportErrno, importErrno }: both ioctls with count 0, which no kernel accepts.
  // ENOTTY means the ioctl does not exist (no CONFIG_XEN_GNTDEV_DMABUF); EINVAL means it exists.
  Napi::Value ProbeDmabuf(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    struct ioctl_gntdev_dmabuf_exp_from_refs exp;
    std::memset(&exp, 0, sizeof exp);
    struct ioctl_gntdev_dmabuf_imp_to_refs imp;
    std::memset(&imp, 0, sizeof imp);
    imp.fd = static_cast<uint32_t>(-1);
    long e = IoctlRetry(dev->fd, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, &exp);
    long i = IoctlRetry(dev->fd, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, &imp);
    if (e >= 0 && exp.fd > 0) ::close(static_cast<int>(exp.fd));  // never expected; do not leak it
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("exportErrno", Napi::Number::New(info.Env(), e < 0 ? static_cast<double>(-e) : 0));
    o.Set("importErrno", Napi::Number::New(info.Env(), i < 0 ? static_cast<double>(-i) : 0));
    return o;
  }

  // Idempotent. Mappings and workers still in flight keep the descriptor until they finish.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    dev_.reset();
    return info.Env().Undefined();
  }

  DevicePtr dev_;
};

Register reg([](Napi::Env env, Napi::Object exports) { exports.Set("Gntdev", Gntdev::Define(env)); });

}  // namespace
}  // namespace vdispl
