// Showing framebuffers: legacy SetCrtc/PageFlip, and atomic commits built from (object, property,
// value) triples the KMS output computes. Completion arrives as events (drm_events.cc).
#include <cstring>
#include <vector>
#include "drm.h"

namespace vdispl {

// setCrtc(crtcId, fbId, x, y, connectorIds[], mode | null). fbId 0 and mode null disable the CRTC.
Napi::Value DrmDevice::SetCrtc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t crtc = ArgU32(info, 0, "crtcId");
  uint32_t fb = ArgU32(info, 1, "fbId");
  uint32_t x = ArgU32(info, 2, "x");
  uint32_t y = ArgU32(info, 3, "y");
  if (info.Length() < 5 || !info[4].IsArray()) throw Napi::TypeError::New(env, "expected connector id array");
  Napi::Array ca = info[4].As<Napi::Array>();
  std::vector<uint32_t> conns;
  for (uint32_t i = 0; i < ca.Length(); i++) {
    Napi::Value v = ca.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "connector ids must be numbers");
    conns.push_back(v.As<Napi::Number>().Uint32Value());
  }
  drmModeModeInfo mode;
  drmModeModeInfo* modePtr = nullptr;
  if (info.Length() > 5 && !info[5].IsNull() && !info[5].IsUndefined()) {
    mode = ModeFromJs(env, info[5]);
    modePtr = &mode;
  }
  if (drmModeSetCrtc(fd, crtc, fb, x, y, conns.empty() ? nullptr : conns.data(), static_cast<int>(conns.size()),
                     modePtr) != 0)
    DrmThrow(env, "drmModeSetCrtc", errno);
  return env.Undefined();
}

// pageFlip(crtcId, fbId, userData): queue a flip at the next vblank with a completion event that
// carries userData back.
Napi::Value DrmDevice::PageFlip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t crtc = ArgU32(info, 0, "crtcId");
  uint32_t fb = ArgU32(info, 1, "fbId");
  uint32_t user = ArgU32(info, 2, "userData");
  void* data = reinterpret_cast<void*>(static_cast<uintptr_t>(user));
  if (drmModePageFlip(fd, crtc, fb, DRM_MODE_PAGE_FLIP_EVENT, data) != 0) DrmThrow(env, "drmModePageFlip", errno);
  return env.Undefined();
}

// atomicCommit(objIds: Uint32Array, propIds: Uint32Array, values: BigUint64Array, flags, userData).
// Throws on refusal; with DRM_MODE_ATOMIC_TEST_ONLY that is how a configuration is probed.
Napi::Value DrmDevice::AtomicCommit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  std::vector<uint32_t> objs = ArgU32Array(info, 0, "objIds");
  std::vector<uint32_t> props = ArgU32Array(info, 1, "propIds");
  if (info.Length() < 3 || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
    throw Napi::TypeError::New(env, "expected BigUint64Array for values");
  Napi::TypedArrayOf<uint64_t> values = info[2].As<Napi::TypedArrayOf<uint64_t>>();
  if (objs.size() != props.size() || objs.size() != values.ElementLength())
    throw Napi::RangeError::New(env, "atomicCommit: objIds, propIds and values differ in length");
  uint32_t flags = ArgU32(info, 3, "flags");
  uint32_t user = info.Length() > 4 ? ArgU32(info, 4, "userData") : 0;
  drmModeAtomicReqPtr req = drmModeAtomicAlloc();
  if (req == nullptr) throw Napi::Error::New(env, "drmModeAtomicAlloc: out of memory");
  for (size_t i = 0; i < objs.size(); i++) {
    if (drmModeAtomicAddProperty(req, objs[i], props[i], values[i]) < 0) {
      drmModeAtomicFree(req);
      throw Napi::Error::New(env, "drmModeAtomicAddProperty failed");
    }
  }
  int r = drmModeAtomicCommit(fd, req, flags, reinterpret_cast<void*>(static_cast<uintptr_t>(user)));
  int err = errno;
  drmModeAtomicFree(req);
  if (r != 0)
    DrmThrow(env, (flags & DRM_MODE_ATOMIC_TEST_ONLY) ? "drmModeAtomicCommit(TEST_ONLY)" : "drmModeAtomicCommit", err);
  return env.Undefined();
}

// createModeBlob(mode) -> blob id for the CRTC's MODE_ID property.
Napi::Value DrmDevice::CreateModeBlob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  drmModeModeInfo mode = ModeFromJs(env, info[0]);
  uint32_t id = 0;
  if (drmModeCreatePropertyBlob(fd, &mode, sizeof mode, &id) != 0) DrmThrow(env, "drmModeCreatePropertyBlob", errno);
  blobs_.insert(id);
  counters().drmBlobs++;
  return Napi::Number::New(env, id);
}

Napi::Value DrmDevice::DestroyBlob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t id = ArgU32(info, 0, "blobId");
  int r = drmModeDestroyPropertyBlob(fd, id);
  if (blobs_.erase(id) > 0) counters().drmBlobs--;
  if (r != 0) DrmThrow(env, "drmModeDestroyPropertyBlob", errno);
  return env.Undefined();
}

}  // namespace vdispl
