// /dev/xen/gntalloc: allocate pages in this domain and grant them to another one (be-alloc without
// dma-buf import). The pages live as long as both our mapping and the allocation do.
#include <sys/mman.h>
#include <cstddef>
#include <cstring>
#include <vector>
#include "xen_uapi.h"
#include "device.h"
#include "mapping.h"
#include "registry.h"

namespace vdispl {
namespace {

constexpr size_t kPage = 4096;
constexpr uint32_t kMaxCount = 1u << 20;

static_assert(offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids) == 16, "alloc header is 16 bytes");
static_assert(offsetof(struct ioctl_gntalloc_alloc_gref, index) == 8, "index at 8");
static_assert(IOCTL_GNTALLOC_ALLOC_GREF == 0x00184705, "ALLOC_GREF number encodes gref_ids[1]");
static_assert(IOCTL_GNTALLOC_DEALLOC_GREF == 0x00104706, "DEALLOC_GREF number");

void Dealloc(const DevicePtr& dev, uint64_t index, uint32_t count) {
  struct ioctl_gntalloc_dealloc_gref op;
  std::memset(&op, 0, sizeof op);
  op.index = index;
  op.count = count;
  IoctlRetry(dev->fd, IOCTL_GNTALLOC_DEALLOC_GREF, &op);
}

class Gntalloc : public Napi::ObjectWrap<Gntalloc> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Gntalloc",
                       {
                           InstanceAccessor<&Gntalloc::Fd>("fd"),
                           InstanceMethod<&Gntalloc::Alloc>("alloc"),
                           InstanceMethod<&Gntalloc::Close>("close"),
                       });
  }

  explicit Gntalloc(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Gntalloc>(info) {
    dev_ = OpenDevice(info.Env(), ArgString(info, 0, "path"), O_RDWR, "gntalloc");
  }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), dev_ ? dev_->fd : -1); }

  // alloc(domid, count, writable) -> { refs: Uint32Array, mapping }. The mapping's unmap() ends
  // the grant (DEALLOC_GREF); pages a guest still maps are freed by Xen when it lets go.
  Napi::Value Alloc(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!dev_) throw Napi::Error::New(env, "gntalloc: used after close()");
    uint32_t domid = ArgU32(info, 0, "domid");
    uint32_t count = ArgU32(info, 1, "count");
    bool writable = info.Length() > 2 && info[2].ToBoolean().Value();
    if (domid > 0xffff) throw Napi::RangeError::New(env, "gntalloc: domid must be a u16");
    if (count == 0 || count > kMaxCount) throw Napi::RangeError::New(env, "gntalloc: bad page count");
    std::vector<uint64_t> words((16 + 4 * static_cast<size_t>(count) + 7) / 8, 0);
    auto* op = reinterpret_cast<struct ioctl_gntalloc_alloc_gref*>(words.data());
    op->domid = static_cast<__u16>(domid);
    op->flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
    op->count = count;
    long r = IoctlRetry(dev_->fd, IOCTL_GNTALLOC_ALLOC_GREF, op);
    if (r < 0) dev_->Throw(env, "IOCTL_GNTALLOC_ALLOC_GREF", static_cast<int>(-r));
    uint64_t index = op->index;
    const uint32_t* ids = reinterpret_cast<const uint32_t*>(reinterpret_cast<const uint8_t*>(op) + 16);
    void* p = mmap(nullptr, kPage * count, PROT_READ | PROT_WRITE, MAP_SHARED, dev_->fd, static_cast<off_t>(index));
    if (p == MAP_FAILED) {
      int err = errno;
      Dealloc(dev_, index, count);
      dev_->Throw(env, "mmap of allocated grants", err);
    }
    counters().grantAllocs++;
    counters().grantAllocPages += count;
    DevicePtr dev = dev_;
    Napi::Object mapping = WrapMapping(env, p, kPage * count, [dev, index, count]() {
      Dealloc(dev, index, count);
      counters().grantAllocs--;
      counters().grantAllocPages -= count;
    });
    Napi::Uint32Array refs = Napi::Uint32Array::New(env, count);
    std::memcpy(refs.Data(), ids, 4 * static_cast<size_t>(count));
    Napi::Object out = Napi::Object::New(env);
    out.Set("refs", refs);
    out.Set("mapping", mapping);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    dev_.reset();
    return info.Env().Undefined();
  }

  DevicePtr dev_;
};

Register reg([](Napi::Env env, Napi::Object exports) { exports.Set("Gntalloc", Gntalloc::Define(env)); });

}  // namespace
}  // namespace vdispl
