// The DRM device: open, identity, capabilities, master. Capabilities are reported, never assumed;
// the KMS output decides what to use.
#include <fcntl.h>
#include "drm.h"
#include "registry.h"

namespace vdispl {

Napi::Function DrmDevice::Define(Napi::Env env) {
  return DefineClass(env, "DrmDevice",
                     {
                         InstanceAccessor<&DrmDevice::GetFd>("fd"),
                         InstanceAccessor<&DrmDevice::GetPath>("path"),
                         InstanceMethod<&DrmDevice::Version>("version"),
                         InstanceMethod<&DrmDevice::GetCap>("getCap"),
                         InstanceMethod<&DrmDevice::SetClientCap>("setClientCap"),
                         InstanceMethod<&DrmDevice::SetMaster>("setMaster"),
                         InstanceMethod<&DrmDevice::DropMaster>("dropMaster"),
                         InstanceMethod<&DrmDevice::IsMaster>("isMaster"),
                         InstanceMethod<&DrmDevice::Resources>("resources"),
                         InstanceMethod<&DrmDevice::GetCrtc>("getCrtc"),
                         InstanceMethod<&DrmDevice::ObjectProperties>("objectProperties"),
                         InstanceMethod<&DrmDevice::CreateDumb>("createDumb"),
                         InstanceMethod<&DrmDevice::MapDumb>("mapDumb"),
                         InstanceMethod<&DrmDevice::DestroyDumb>("destroyDumb"),
                         InstanceMethod<&DrmDevice::PrimeFdToHandle>("primeFdToHandle"),
                         InstanceMethod<&DrmDevice::PrimeHandleToFd>("primeHandleToFd"),
                         InstanceMethod<&DrmDevice::CloseHandle>("closeHandle"),
                         InstanceMethod<&DrmDevice::AddFb2>("addFb2"),
                         InstanceMethod<&DrmDevice::RmFb>("rmFb"),
                         InstanceMethod<&DrmDevice::SetCrtc>("setCrtc"),
                         InstanceMethod<&DrmDevice::PageFlip>("pageFlip"),
                         InstanceMethod<&DrmDevice::AtomicCommit>("atomicCommit"),
                         InstanceMethod<&DrmDevice::CreateModeBlob>("createModeBlob"),
                         InstanceMethod<&DrmDevice::DestroyBlob>("destroyBlob"),
                         InstanceMethod<&DrmDevice::HandleEvents>("handleEvents"),
                         InstanceMethod<&DrmDevice::Close>("close"),
                     });
}

// new DrmDevice(path). Non-blocking, so reading events after a readiness callback never blocks.
DrmDevice::DrmDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DrmDevice>(info) {
  path_ = ArgString(info, 0, "path");
  dev_ = OpenDevice(info.Env(), path_, O_RDWR | O_NONBLOCK, "drm");
}

DrmDevice::~DrmDevice() { ReleaseAll(); }

int DrmDevice::Fd(Napi::Env env) const {
  if (!dev_) throw Napi::Error::New(env, path_ + ": DRM device used after close()");
  return dev_->fd;
}

// Closing the DRM file makes the kernel remove our framebuffers, GEM handles and blobs.
void DrmDevice::ReleaseAll() {
  counters().drmDumbBuffers -= static_cast<int64_t>(dumbs_.size());
  counters().drmFramebuffers -= static_cast<int64_t>(fbs_.size());
  counters().drmBlobs -= static_cast<int64_t>(blobs_.size());
  dumbs_.clear();
  fbs_.clear();
  blobs_.clear();
  dev_.reset();
}

Napi::Value DrmDevice::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), dev_ ? dev_->fd : -1);
}

Napi::Value DrmDevice::GetPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }

Napi::Value DrmDevice::Version(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  drmVersionPtr v = drmGetVersion(Fd(env));
  if (v == nullptr) DrmThrow(env, "drmGetVersion", errno ? errno : EIO);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, v->name ? std::string(v->name, v->name_len) : std::string()));
  o.Set("desc", Napi::String::New(env, v->desc ? std::string(v->desc, v->desc_len) : std::string()));
  o.Set("date", Napi::String::New(env, v->date ? std::string(v->date, v->date_len) : std::string()));
  o.Set("major", Napi::Number::New(env, v->version_major));
  o.Set("minor", Napi::Number::New(env, v->version_minor));
  o.Set("patch", Napi::Number::New(env, v->version_patchlevel));
  drmFreeVersion(v);
  return o;
}

// getCap(cap) -> value, or -errno where the kernel does not know the capability.
Napi::Value DrmDevice::GetCap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t cap = ArgU32(info, 0, "cap");
  uint64_t value = 0;
  if (drmGetCap(Fd(env), cap, &value) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, static_cast<double>(value));
}

// setClientCap(cap, value) -> 0, or errno where it was not granted (a normal answer: e.g. atomic
// is refused on drivers without it).
Napi::Value DrmDevice::SetClientCap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t cap = ArgU32(info, 0, "cap");
  uint32_t value = ArgU32(info, 1, "value");
  int r = drmSetClientCap(Fd(env), cap, value);
  return Napi::Number::New(env, r == 0 ? 0 : errno);
}

Napi::Value DrmDevice::SetMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (drmSetMaster(Fd(env)) != 0) DrmThrow(env, "drmSetMaster", errno);
  return env.Undefined();
}

Napi::Value DrmDevice::DropMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (drmDropMaster(Fd(env)) != 0) DrmThrow(env, "drmDropMaster", errno);
  return env.Undefined();
}

Napi::Value DrmDevice::IsMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, drmIsMaster(Fd(env)) != 0);
}

// Idempotent. Restoring what was on screen is the caller's job, before this.
Napi::Value DrmDevice::Close(const Napi::CallbackInfo& info) {
  ReleaseAll();
  return info.Env().Undefined();
}

namespace {
Register reg([](Napi::Env env, Napi::Object exports) { exports.Set("DrmDevice", DrmDevice::Define(env)); });
}  // namespace

}  // namespace vdispl
