// Blocking kernel calls run on libuv's thread pool and settle a Promise back on the event loop,
// which never blocks. Execute() must not touch JavaScript; it records errno and the failing call,
// and the error object is built on the loop thread so it carries the same fields as a sync error.
#pragma once
#include <napi.h>
#include <string>
#include "errors.h"

namespace vdispl {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Queue() {
    Napi::Promise p = deferred_.Promise();
    Napi::AsyncWorker::Queue();
    return p;
  }

 protected:
  // Record a failure from Execute(): the call that failed, on which device, and errno.
  void Fail(const std::string& device, const std::string& call, int err, const std::string& kind = std::string()) {
    kind_ = kind;
    device_ = device;
    call_ = call;
    err_ = err;
  }
  template <typename Dev>
  void FailOn(const Dev& dev, const std::string& call, int err) {
    Fail(dev->path, call, err, dev->kind);
  }
  bool Failed() const { return err_ != 0; }
  // Builds the resolution value on the loop thread; only called when Execute() did not Fail().
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Called on the loop thread instead of Result() after a failure, to undo partial work if any.
  virtual void Cleanup() {}

 private:
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (err_ != 0) {
      Cleanup();
      deferred_.Reject(DeviceError(env, device_, call_, err_, kind_).Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  std::string kind_;
  std::string device_;
  std::string call_;
  int err_ = 0;
};

}  // namespace vdispl
