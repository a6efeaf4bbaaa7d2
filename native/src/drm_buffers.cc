// Memory and framebuffers on the DRM device: dumb buffers (CPU-written scanout memory for the copy
// path and be-alloc), PRIME (dma-buf fd <-> GEM handle, the zero-copy path) and ADDFB2 with the
// pitch and offset the guest's buffer really has.
#include <sys/mman.h>
#include <cstring>
#include <drm_fourcc.h>
#include "drm.h"
#include "mapping.h"

namespace vdispl {

// createDumb(width, height, bpp) -> { handle, pitch, size }
Napi::Value DrmDevice::CreateDumb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  struct drm_mode_create_dumb req;
  std::memset(&req, 0, sizeof req);
  req.width = ArgU32(info, 0, "width");
  req.height = ArgU32(info, 1, "height");
  req.bpp = ArgU32(info, 2, "bpp");
  if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &req) != 0) DrmThrow(env, "DRM_IOCTL_MODE_CREATE_DUMB", errno);
  dumbs_.insert(req.handle);
  counters().drmDumbBuffers++;
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", Napi::Number::New(env, req.handle));
  o.Set("pitch", Napi::Number::New(env, req.pitch));
  o.Set("size", Napi::Number::New(env, static_cast<double>(req.size)));
  return o;
}

// mapDumb(handle, size) -> mapping (read/write, shared with the device).
Napi::Value DrmDevice::MapDumb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  struct drm_mode_map_dumb req;
  std::memset(&req, 0, sizeof req);
  req.handle = ArgU32(info, 0, "handle");
  int64_t size = ArgI64(info, 1, "size");
  if (size <= 0) throw Napi::RangeError::New(env, "mapDumb: bad size");
  if (drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &req) != 0) DrmThrow(env, "DRM_IOCTL_MODE_MAP_DUMB", errno);
  void* p =
      mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(req.offset));
  if (p == MAP_FAILED) DrmThrow(env, "mmap of dumb buffer", errno);
  // The mapping keeps the DRM file open (and the buffer's pages with it) until it is unmapped.
  DevicePtr keep = dev_;
  return WrapMapping(env, p, static_cast<size_t>(size), [keep]() {});
}

Napi::Value DrmDevice::DestroyDumb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  struct drm_mode_destroy_dumb req;
  req.handle = ArgU32(info, 0, "handle");
  int r = drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &req);
  if (dumbs_.erase(req.handle) > 0) counters().drmDumbBuffers--;
  if (r != 0) DrmThrow(env, "DRM_IOCTL_MODE_DESTROY_DUMB", errno);
  return env.Undefined();
}

// primeFdToHandle(dmabufFd) -> GEM handle. The same dma-buf always gives the same handle on one DRM
// file, and handles are not reference counted: the caller closes each exactly once.
Napi::Value DrmDevice::PrimeFdToHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  int dmabuf = ArgFd(info, 0, "dmabufFd");
  uint32_t handle = 0;
  if (drmPrimeFDToHandle(fd, dmabuf, &handle) != 0) DrmThrow(env, "DRM_IOCTL_PRIME_FD_TO_HANDLE", errno);
  return Napi::Number::New(env, handle);
}

// primeHandleToFd(handle) -> dma-buf fd (close-on-exec, read/write).
Napi::Value DrmDevice::PrimeHandleToFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t handle = ArgU32(info, 0, "handle");
  int out = -1;
  if (drmPrimeHandleToFD(fd, handle, DRM_CLOEXEC | DRM_RDWR, &out) != 0)
    DrmThrow(env, "DRM_IOCTL_PRIME_HANDLE_TO_FD", errno);
  return Napi::Number::New(env, out);
}

// closeHandle(handle): GEM_CLOSE for an imported handle.
Napi::Value DrmDevice::CloseHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  struct drm_gem_close req;
  std::memset(&req, 0, sizeof req);
  req.handle = ArgU32(info, 0, "handle");
  if (drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &req) != 0) DrmThrow(env, "DRM_IOCTL_GEM_CLOSE", errno);
  return env.Undefined();
}

namespace {
void FourU32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t out[4]) {
  if (i >= info.Length() || !info[i].IsArray())
    throw Napi::TypeError::New(info.Env(), std::string("expected array for ") + name);
  Napi::Array a = info[i].As<Napi::Array>();
  if (a.Length() < 1 || a.Length() > 4) throw Napi::RangeError::New(info.Env(), std::string(name) + ": 1 to 4 planes");
  for (uint32_t k = 0; k < 4; k++) {
    out[k] = 0;
    if (k < a.Length()) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": numbers expected");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= 0 && d <= 4294967295.0)) throw Napi::RangeError::New(info.Env(), std::string(name) + ": u32 expected");
      out[k] = static_cast<uint32_t>(d);
    }
  }
}
}  // namespace

// addFb2(width, height, fourcc, handles[], pitches[], offsets[], modifiers?: bigint[]) -> fb id.
// With modifiers, DRM_MODE_FB_MODIFIERS is set (only where DRM_CAP_ADDFB2_MODIFIERS says so).
Napi::Value DrmDevice::AddFb2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t w = ArgU32(info, 0, "width");
  uint32_t h = ArgU32(info, 1, "height");
  uint32_t fourcc = ArgU32(info, 2, "fourcc");
  uint32_t handles[4], pitches[4], offsets[4];
  FourU32(info, 3, "handles", handles);
  FourU32(info, 4, "pitches", pitches);
  FourU32(info, 5, "offsets", offsets);
  uint32_t fbId = 0;
  int r;
  if (info.Length() > 6 && info[6].IsArray()) {
    Napi::Array a = info[6].As<Napi::Array>();
    uint64_t mods[4] = {0, 0, 0, 0};
    for (uint32_t k = 0; k < a.Length() && k < 4; k++) {
      Napi::Value v = a.Get(k);
      if (!v.IsBigInt()) throw Napi::TypeError::New(env, "modifiers: bigints expected");
      bool lossless = false;
      mods[k] = v.As<Napi::BigInt>().Uint64Value(&lossless);
    }
    r = drmModeAddFB2WithModifiers(fd, w, h, fourcc, handles, pitches, offsets, mods, &fbId, DRM_MODE_FB_MODIFIERS);
  } else {
    r = drmModeAddFB2(fd, w, h, fourcc, handles, pitches, offsets, &fbId, 0);
  }
  if (r != 0) DrmThrow(env, "DRM_IOCTL_MODE_ADDFB2", errno);
  fbs_.insert(fbId);
  counters().drmFramebuffers++;
  return Napi::Number::New(env, fbId);
}

Napi::Value DrmDevice::RmFb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t fbId = ArgU32(info, 0, "fbId");
  int r = drmModeRmFB(fd, fbId);
  if (fbs_.erase(fbId) > 0) counters().drmFramebuffers--;
  if (r != 0) DrmThrow(env, "DRM_IOCTL_MODE_RMFB", errno);
  return env.Undefined();
}

}  // namespace vdispl
