// Errors thrown to JavaScript carry errno, its symbolic code, the call that failed and (for device
// calls) the device, so the TypeScript policy layer can act on them without parsing messages; the
// message itself is what an operator reads, with the fix for the well-known cases.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace vdispl {

const char* ErrnoName(int err);

// What to do about `err` from `call` on a device of `kind` ("gntdev", "gntalloc", "evtchn",
// "xenbus", "drm", "notify"; "" = guess from the path), or nullptr when there is nothing useful to
// say. Lives in hints.cc so the advice is one table, not scattered over the device files.
const char* Hint(const std::string& kind, const std::string& device, const std::string& call, int err);

inline Napi::Error ErrnoError(Napi::Env env, const std::string& call, int err) {
  std::string msg = call + ": " + std::strerror(err) + " (" + ErrnoName(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("syscall", Napi::String::New(env, call));
  return e;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, const std::string& call, int err) {
  throw ErrnoError(env, call, err);
}

// "<device>: <call>: <strerror> (<ECODE>)[ — <fix>]", with errno/code/syscall/device/hint properties.
inline Napi::Error DeviceError(Napi::Env env, const std::string& device, const std::string& call, int err,
                               const std::string& kind = std::string()) {
  std::string msg = device + ": " + call + ": " + std::strerror(err) + " (" + ErrnoName(err) + ")";
  const char* hint = Hint(kind, device, call, err);
  if (hint != nullptr) msg += std::string(" — ") + hint;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("syscall", Napi::String::New(env, call));
  e.Set("device", Napi::String::New(env, device));
  if (hint != nullptr) e.Set("hint", Napi::String::New(env, hint));
  return e;
}

[[noreturn]] inline void ThrowDevice(Napi::Env env, const std::string& device, const std::string& call, int err,
                                     const std::string& kind = std::string()) {
  throw DeviceError(env, device, call, err, kind);
}

// Argument helpers: a wrong type from the TypeScript layer is a programming error, reported as TypeError.
inline uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string("expected number for ") + name);
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 4294967295.0) || v != static_cast<double>(static_cast<uint64_t>(v)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a uint32");
  return static_cast<uint32_t>(v);
}

inline int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string("expected number for ") + name);
  return info[i].As<Napi::Number>().Int64Value();
}

// A file descriptor argument: a non-negative int.
inline int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint32_t v = ArgU32(info, i, name);
  if (v > 0x7fffffffu) throw Napi::RangeError::New(info.Env(), std::string(name) + " is not a file descriptor");
  return static_cast<int>(v);
}

inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string("expected string for ") + name);
  return info[i].As<Napi::String>().Utf8Value();
}

// A byte range inside a TypedArray argument, bounds-checked against the view.
inline uint8_t* ArgBytes(const Napi::CallbackInfo& info, size_t i, size_t off, size_t len, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray())
    throw Napi::TypeError::New(info.Env(), std::string("expected Uint8Array for ") + name);
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  size_t bytes = ta.ByteLength();
  if (off > bytes || len > bytes - off)
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": range outside the view");
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  uint8_t* base = static_cast<uint8_t*>(ab.Data());
  if (base == nullptr && bytes != 0) throw Napi::Error::New(info.Env(), std::string(name) + ": buffer is detached");
  return base + ta.ByteOffset() + off;
}

// A Uint32Array argument (grant refs, ports), copied: the caller may change it after we return.
inline std::vector<uint32_t> ArgU32Array(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(info.Env(), std::string("expected Uint32Array for ") + name);
  Napi::Uint32Array a = info[i].As<Napi::Uint32Array>();
  return std::vector<uint32_t>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace vdispl
