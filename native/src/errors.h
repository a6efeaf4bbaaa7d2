// Errors thrown to JavaScript carry errno, its symbolic code and the call that failed, so the
// TypeScript policy layer can turn well-known cases into advice without parsing messages.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace vdispl {

const char* ErrnoName(int err);

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
  if (base == nullptr) throw Napi::Error::New(info.Env(), std::string(name) + ": buffer is detached");
  return base + ta.ByteOffset() + off;
}

}  // namespace vdispl
