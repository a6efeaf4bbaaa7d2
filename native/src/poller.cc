// Readiness of a file descriptor from libuv's own poll loop (uv_poll): the event channel device,
// /dev/xen/xenbus and the DRM fd wake the event loop like a socket would, and nothing ever blocks
// on a read.
#include <uv.h>
#include <functional>
#include <memory>
#include "errors.h"
#include "registry.h"
#include "stats.h"

namespace vdispl {
namespace {

class FdPoller : public Napi::ObjectWrap<FdPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdPoller",
                       {
                           InstanceMethod<&FdPoller::Start>("start"),
                           InstanceMethod<&FdPoller::Stop>("stop"),
                           InstanceMethod<&FdPoller::Ref>("ref"),
                           InstanceMethod<&FdPoller::Unref>("unref"),
                           InstanceMethod<&FdPoller::Close>("close"),
                       });
  }

  // new FdPoller(fd, callback(status, events)). status is 0 or a negative errno from libuv;
  // events has bit 1 readable, bit 2 writable.
  explicit FdPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdPoller>(info) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0, "fd");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "expected callback");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
      throw Napi::Error::New(env, "FdPoller: no event loop");
    handle_ = new uv_poll_t;
    int r = uv_poll_init(loop, handle_, fd);
    if (r != 0) {
      delete handle_;
      handle_ = nullptr;
      throw ErrnoError(env, "uv_poll_init", -r);
    }
    handle_->data = this;
    counters().pollers++;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "vdispld:fd-poller");
    // Alive while open even if JavaScript drops it: libuv holds a pointer to us.
    Napi::ObjectWrap<FdPoller>::Ref();
    cleanup_ = env.AddCleanupHook(std::function<void()>([this]() { CloseHandle(); }));
  }

  ~FdPoller() override {
    if (handle_) {
      CloseHandle();
      cleanup_.Remove(Env());
    }
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!handle_) throw Napi::Error::New(info.Env(), "FdPoller: used after close()");
    uint32_t events = info.Length() > 0 ? ArgU32(info, 0, "events") : 1;
    int uvEvents = ((events & 1) ? UV_READABLE : 0) | ((events & 2) ? UV_WRITABLE : 0);
    int r = uv_poll_start(handle_, uvEvents, OnPoll);
    if (r != 0) throw ErrnoError(info.Env(), "uv_poll_start", -r);
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_) uv_poll_stop(handle_);
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (handle_) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  // Idempotent; no callback runs after it returns. The descriptor itself belongs to the caller.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_) {
      CloseHandle();
      cleanup_.Remove(info.Env());
      Napi::ObjectWrap<FdPoller>::Unref();
    }
    return info.Env().Undefined();
  }

  void CloseHandle() {
    if (!handle_) return;
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
    counters().pollers--;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdPoller*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    int bits = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0);
    try {
      self->callback_.MakeCallback(self->Value(), {Napi::Number::New(env, status), Napi::Number::New(env, bits)},
                                   *self->context_);
    } catch (const Napi::Error& e) {
      // A throwing handler is a bug in the caller: surface it as an uncaught exception, as Node does
      // for any other I/O callback.
      napi_fatal_exception(env, e.Value());
    }
  }

  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  Napi::Env::CleanupHook<std::function<void()>> cleanup_;
};

Register reg([](Napi::Env env, Napi::Object exports) { exports.Set("FdPoller", FdPoller::Define(env)); });

}  // namespace
}  // namespace vdispl
