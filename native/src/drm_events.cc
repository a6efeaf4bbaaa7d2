// Page-flip completion: after the DRM fd polls readable, drmHandleEvent reads the queued events and
// we hand them to JavaScript as plain records. Never blocks: the fd is non-blocking.
#include <vector>
#include "drm.h"

namespace vdispl {
namespace {

struct FlipEvent {
  uint32_t crtcId;
  uint32_t sequence;
  uint32_t sec;
  uint32_t usec;
  uint32_t userData;
};

// drmHandleEvent calls back synchronously on this thread; the callbacks append here.
thread_local std::vector<FlipEvent>* t_events = nullptr;

void OnFlip(int, unsigned int sequence, unsigned int sec, unsigned int usec, unsigned int crtcId, void* data) {
  if (t_events == nullptr) return;
  t_events->push_back(FlipEvent{crtcId, sequence, sec, usec, static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data))});
}

}  // namespace

// handleEvents() -> [{ crtcId, sequence, sec, usec, userData }] (empty when nothing was queued).
Napi::Value DrmDevice::HandleEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  std::vector<FlipEvent> events;
  drmEventContext ctx;
  std::memset(&ctx, 0, sizeof ctx);
  ctx.version = 3;  // page_flip_handler2: the event names its CRTC
  ctx.page_flip_handler2 = OnFlip;
  t_events = &events;
  int r = drmHandleEvent(fd, &ctx);
  int err = errno;
  t_events = nullptr;
  if (r != 0 && err != EAGAIN && err != EWOULDBLOCK && events.empty()) DrmThrow(env, "drmHandleEvent", err);
  Napi::Array out = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("crtcId", Napi::Number::New(env, events[i].crtcId));
    o.Set("sequence", Napi::Number::New(env, events[i].sequence));
    o.Set("sec", Napi::Number::New(env, events[i].sec));
    o.Set("usec", Napi::Number::New(env, events[i].usec));
    o.Set("userData", Napi::Number::New(env, events[i].userData));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace vdispl
