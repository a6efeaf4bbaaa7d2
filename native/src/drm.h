// A DRM/KMS device through libdrm: the mechanism the KMS output is built on (src/drm/kms). The class
// is split over drm_*.cc files by concern: the device itself, what it has (resources), memory and
// framebuffers (buffers), showing them (modeset), and completion events.
#pragma once
#include <napi.h>
#include <set>
#include <string>
#include <xf86drm.h>
#include <xf86drmMode.h>
#include "device.h"

namespace vdispl {

Napi::Object ModeToJs(Napi::Env env, const drmModeModeInfo& m);
drmModeModeInfo ModeFromJs(Napi::Env env, const Napi::Value& v);

class DrmDevice : public Napi::ObjectWrap<DrmDevice> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DrmDevice(const Napi::CallbackInfo& info);
  ~DrmDevice() override;

 private:
  int Fd(Napi::Env env) const;
  [[noreturn]] void DrmThrow(Napi::Env env, const std::string& call, int err) const {
    ThrowDevice(env, path_, call, err, "drm");
  }
  const std::string& DevPath() const { return path_; }

  // drm_device.cc
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value Version(const Napi::CallbackInfo& info);
  Napi::Value GetCap(const Napi::CallbackInfo& info);
  Napi::Value SetClientCap(const Napi::CallbackInfo& info);
  Napi::Value SetMaster(const Napi::CallbackInfo& info);
  Napi::Value DropMaster(const Napi::CallbackInfo& info);
  Napi::Value IsMaster(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // drm_resources.cc
  Napi::Value Resources(const Napi::CallbackInfo& info);
  Napi::Value GetCrtc(const Napi::CallbackInfo& info);
  Napi::Value ObjectProperties(const Napi::CallbackInfo& info);
  // drm_buffers.cc
  Napi::Value CreateDumb(const Napi::CallbackInfo& info);
  Napi::Value MapDumb(const Napi::CallbackInfo& info);
  Napi::Value DestroyDumb(const Napi::CallbackInfo& info);
  Napi::Value PrimeFdToHandle(const Napi::CallbackInfo& info);
  Napi::Value PrimeHandleToFd(const Napi::CallbackInfo& info);
  Napi::Value CloseHandle(const Napi::CallbackInfo& info);
  Napi::Value AddFb2(const Napi::CallbackInfo& info);
  Napi::Value RmFb(const Napi::CallbackInfo& info);
  // drm_modeset.cc
  Napi::Value SetCrtc(const Napi::CallbackInfo& info);
  Napi::Value PageFlip(const Napi::CallbackInfo& info);
  Napi::Value AtomicCommit(const Napi::CallbackInfo& info);
  Napi::Value CreateModeBlob(const Napi::CallbackInfo& info);
  Napi::Value DestroyBlob(const Napi::CallbackInfo& info);
  // drm_events.cc
  Napi::Value HandleEvents(const Napi::CallbackInfo& info);

  void ReleaseAll();

  DevicePtr dev_;
  std::string path_;
  // What we created, so counters stay honest and close() can account for the kernel's implicit
  // clean-up of a closed DRM file.
  std::set<uint32_t> dumbs_;
  std::set<uint32_t> fbs_;
  std::set<uint32_t> blobs_;
};

}  // namespace vdispl
