// A Wayland client connection through libwayland-client: the registry, wl_shm pools,
// xdg_toplevel windows, dma-buf buffers (zwp_linux_dmabuf_v1), presentation feedback
// (wp_presentation) and output names (wl_output v4, else xdg-output). Mechanism only: the
// TypeScript output (src/drm/wayland) decides what to show and when; this file turns its calls
// into requests and the compositor's events into plain objects returned by dispatch(). The
// protocol code (xdg-shell, linux-dmabuf, presentation-time, xdg-output) is generated at build
// time by wayland-scanner from Debian's wayland-protocols; nothing here encodes the wire format.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "../errors.h"
#include "../registry.h"
#include "wayland_stats.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "presentation-time-client-protocol.h"
#include "xdg-output-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"

namespace vdispl {
namespace {

struct Event {
  const char* type;
  uint32_t window = 0;
  // frame: compositor time in ms; release, dmabuf-created, dmabuf-failed: buffer id; presented:
  // the output's refresh period in ns (0 unknown); lost: errno
  uint32_t value = 0;
  uint64_t timeNs = 0;  // presented: when the frame turned to light, on the presentation clock
  // pointer-enter, motion: surface position; key, button: 1 pressed, 0 released; wheel: steps
  double x = 0, y = 0;
  bool hasXY = false;
};

// The linear layout the guest's buffers have; DRM_FORMAT_MOD_INVALID is "implicit" (the
// compositor asks the driver), what a v1/v2 zwp_linux_dmabuf_v1 format event stands for.
constexpr uint64_t kModInvalid = 0x00ffffffffffffffULL;

struct Window;

// A dma-buf wl_buffer of a window: params until the compositor answers created or failed.
struct DmabufBuffer {
  Window* window = nullptr;
  uint32_t id = 0;
  zwp_linux_buffer_params_v1* params = nullptr;
  wl_buffer* buffer = nullptr;
};

// A compositor output. Its name (what `wayland:NAME` matches) comes from wl_output v4 where the
// compositor has it, else from its xdg_output (v2 and up): Weston 10 and other wl_output v3
// compositors name their outputs only there.
struct OutputInfo {
  uint32_t globalName = 0;
  wl_output* proxy = nullptr;
  zxdg_output_v1* xdg = nullptr;
  std::string name, xdgName;
  std::string description, xdgDescription;
  int32_t width = 0, height = 0, refresh = 0;

  const std::string& Name() const { return name.empty() ? xdgName : name; }
  const std::string& Description() const { return description.empty() ? xdgDescription : description; }
};

class WaylandClient;

// One toplevel and its double-buffered shm pool: two wl_buffers over one memfd, allocated once
// when the window is made, so no frame allocates.
struct Window {
  WaylandClient* client = nullptr;
  uint32_t id = 0;
  wl_surface* surface = nullptr;
  xdg_surface* xsurface = nullptr;
  xdg_toplevel* toplevel = nullptr;
  wl_callback* frame = nullptr;
  wl_shm_pool* pool = nullptr;
  wl_buffer* buffers[2] = {nullptr, nullptr};
  Napi::Reference<Napi::ArrayBuffer> views[2];
  int memfd = -1;
  void* map = MAP_FAILED;
  size_t bufferBytes = 0;
  int32_t width = 0, height = 0;
  bool hasBuffer = false;
  // Buffer ids 0 and 1 are the shm halves; dma-buf buffers count up from 2.
  uint32_t lastBufferId = 1;
  std::map<uint32_t, std::unique_ptr<DmabufBuffer>> dmabufs;
  std::vector<struct wp_presentation_feedback*> feedbacks;
};

class WaylandClient : public Napi::ObjectWrap<WaylandClient> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WaylandClient",
                       {
                           InstanceMethod<&WaylandClient::Fd>("fd"),
                           InstanceMethod<&WaylandClient::Outputs>("outputs"),
                           InstanceMethod<&WaylandClient::ShmFormats>("shmFormats"),
                           InstanceMethod<&WaylandClient::DmabufFormats>("dmabufFormats"),
                           InstanceMethod<&WaylandClient::PresentationClock>("presentationClock"),
                           InstanceMethod<&WaylandClient::CreateDmabuf>("createDmabuf"),
                           InstanceMethod<&WaylandClient::DestroyBuffer>("destroyBuffer"),
                           InstanceMethod<&WaylandClient::Dispatch>("dispatch"),
                           InstanceMethod<&WaylandClient::Flush>("flush"),
                           InstanceMethod<&WaylandClient::CreateWindow>("createWindow"),
                           InstanceMethod<&WaylandClient::Commit>("commit"),
                           InstanceMethod<&WaylandClient::SetTitle>("setTitle"),
                           InstanceMethod<&WaylandClient::DestroyWindow>("destroyWindow"),
                           InstanceMethod<&WaylandClient::Close>("close"),
                       });
  }

  // new WaylandClient(displayName): '' connects to $WAYLAND_DISPLAY (libwayland's default).
  // Throws with errno when there is no compositor, or when it lacks wl_compositor, wl_shm or
  // xdg_wm_base.
  explicit WaylandClient(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WaylandClient>(info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "displayName");
    display_ = wl_display_connect(name.empty() ? nullptr : name.c_str());
    if (display_ == nullptr) ThrowErrno(env, "wl_display_connect", errno != 0 ? errno : ECONNREFUSED);
    waylandCounters().connections++;
    registry_ = wl_display_get_registry(display_);
    wl_registry_add_listener(registry_, &kRegistryListener, this);
    // Two round trips: the globals, then what the bound globals say at once (shm formats, output names).
    if (wl_display_roundtrip(display_) < 0 || wl_display_roundtrip(display_) < 0) {
      int err = wl_display_get_error(display_);
      Teardown(true);
      ThrowErrno(env, "wl_display_roundtrip", err != 0 ? err : EPROTO);
    }
    const char* missing = compositor_ == nullptr ? "wl_compositor"
                          : shm_ == nullptr      ? "wl_shm"
                          : wm_ == nullptr       ? "xdg_wm_base"
                                                 : nullptr;
    if (missing != nullptr) {
      Teardown(true);
      Napi::Error e = Napi::Error::New(env, std::string("the compositor offers no ") + missing);
      e.Set("errno", Napi::Number::New(env, ENOTSUP));
      e.Set("code", Napi::String::New(env, "ENOTSUP"));
      throw e;
    }
    cleanup_ = env.AddCleanupHook(std::function<void()>([this]() { Teardown(false); }));
    hooked_ = true;
  }

  // Collected without close(): its views are unreachable too, so they are not detached (no
  // JavaScript may run in a finalizer).
  ~WaylandClient() override {
    if (display_ != nullptr) Teardown(false);
  }

  void Push(Event e) { events_.push_back(e); }

 private:
  // ---- registry and global listeners -------------------------------------------------------
  static void OnGlobal(void* data, wl_registry* reg, uint32_t name, const char* iface, uint32_t version) {
    auto* self = static_cast<WaylandClient*>(data);
    if (std::strcmp(iface, wl_compositor_interface.name) == 0 && self->compositor_ == nullptr) {
      self->compositor_ =
          static_cast<wl_compositor*>(wl_registry_bind(reg, name, &wl_compositor_interface, 4 < version ? 4 : version));
    } else if (std::strcmp(iface, wl_shm_interface.name) == 0 && self->shm_ == nullptr) {
      self->shm_ = static_cast<wl_shm*>(wl_registry_bind(reg, name, &wl_shm_interface, 1));
      wl_shm_add_listener(self->shm_, &kShmListener, self);
    } else if (std::strcmp(iface, xdg_wm_base_interface.name) == 0 && self->wm_ == nullptr) {
      self->wm_ = static_cast<xdg_wm_base*>(wl_registry_bind(reg, name, &xdg_wm_base_interface, 1));
      xdg_wm_base_add_listener(self->wm_, &kWmListener, self);
    } else if (std::strcmp(iface, zwp_linux_dmabuf_v1_interface.name) == 0 && self->dmabuf_ == nullptr) {
      // Version 3 says which modifiers go with each format; v4's feedback objects add device
      // preferences a linear guest buffer has no use for.
      self->dmabuf_ = static_cast<zwp_linux_dmabuf_v1*>(
          wl_registry_bind(reg, name, &zwp_linux_dmabuf_v1_interface, version < 3 ? version : 3));
      zwp_linux_dmabuf_v1_add_listener(self->dmabuf_, &kDmabufListener, self);
    } else if (std::strcmp(iface, wp_presentation_interface.name) == 0 && self->presentation_ == nullptr) {
      self->presentation_ = static_cast<wp_presentation*>(wl_registry_bind(reg, name, &wp_presentation_interface, 1));
      wp_presentation_add_listener(self->presentation_, &kPresentationListener, self);
    } else if (std::strcmp(iface, wl_seat_interface.name) == 0 && self->seat_ == nullptr) {
      // Input on a guest's window is that guest's (keyboard and pointer; v5 for discrete wheel steps).
      self->seat_ = static_cast<wl_seat*>(wl_registry_bind(reg, name, &wl_seat_interface, version < 5 ? version : 5));
      wl_seat_add_listener(self->seat_, &kSeatListener, self);
    } else if (std::strcmp(iface, wl_output_interface.name) == 0) {
      auto out = std::make_unique<OutputInfo>();
      out->globalName = name;
      out->proxy =
          static_cast<wl_output*>(wl_registry_bind(reg, name, &wl_output_interface, version < 4 ? version : 4));
      wl_output_add_listener(out->proxy, &kOutputListener, out.get());
      self->WatchXdgOutput(*out);
      self->outputs_.push_back(std::move(out));
    } else if (std::strcmp(iface, zxdg_output_manager_v1_interface.name) == 0 && self->xdgOutputs_ == nullptr &&
               version >= 2) {
      // Version 2 added the name event, the only thing taken from it; v3 changes nothing read here.
      self->xdgOutputs_ = static_cast<zxdg_output_manager_v1*>(
          wl_registry_bind(reg, name, &zxdg_output_manager_v1_interface, version < 3 ? version : 3));
      self->xdgOutputsGlobal_ = name;
      // Outputs announced before the manager.
      for (auto& o : self->outputs_) self->WatchXdgOutput(*o);
    }
  }
  static void OnGlobalRemove(void* data, wl_registry*, uint32_t name) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->xdgOutputs_ != nullptr && name == self->xdgOutputsGlobal_) {
      // The names already learnt stay; outputs announced from now on have only wl_output's.
      for (auto& o : self->outputs_) self->ReleaseXdgOutput(*o);
      zxdg_output_manager_v1_destroy(self->xdgOutputs_);
      self->xdgOutputs_ = nullptr;
      return;
    }
    for (auto it = self->outputs_.begin(); it != self->outputs_.end(); ++it) {
      if ((*it)->globalName != name) continue;
      self->ReleaseOutput(**it);
      self->outputs_.erase(it);
      return;
    }
  }
  static constexpr wl_registry_listener kRegistryListener = {OnGlobal, OnGlobalRemove};

  static void OnShmFormat(void* data, wl_shm*, uint32_t format) {
    static_cast<WaylandClient*>(data)->shmFormats_.push_back(format);
  }
  static constexpr wl_shm_listener kShmListener = {OnShmFormat};

  static void OnDmabufFormat(void* data, zwp_linux_dmabuf_v1* d, uint32_t format) {
    // From version 3 on the modifier events say it all (format events are only kept for old clients).
    if (zwp_linux_dmabuf_v1_get_version(d) < 3)
      static_cast<WaylandClient*>(data)->dmabufFormats_.push_back({format, kModInvalid});
  }
  static void OnDmabufModifier(void* data, zwp_linux_dmabuf_v1*, uint32_t format, uint32_t hi, uint32_t lo) {
    static_cast<WaylandClient*>(data)->dmabufFormats_.push_back({format, (uint64_t{hi} << 32) | lo});
  }
  static constexpr zwp_linux_dmabuf_v1_listener kDmabufListener = {OnDmabufFormat, OnDmabufModifier};

  static void OnClockId(void* data, wp_presentation*, uint32_t clk) {
    static_cast<WaylandClient*>(data)->clockId_ = static_cast<int32_t>(clk);
  }
  static constexpr wp_presentation_listener kPresentationListener = {OnClockId};

  // ---- input (wl_seat) ----------------------------------------------------------------------
  uint32_t WindowOf(wl_surface* s) const {
    if (s == nullptr) return 0;
    for (auto& [id, w] : windows_)
      if (w->surface == s) return id;
    return 0;
  }
  void PushXY(const char* type, uint32_t window, uint32_t value, double x, double y) {
    Event e{type, window, value};
    e.x = x;
    e.y = y;
    e.hasXY = true;
    Push(e);
  }

  static void OnSeatCapabilities(void* data, wl_seat* seat, uint32_t caps) {
    auto* self = static_cast<WaylandClient*>(data);
    bool kbd = (caps & WL_SEAT_CAPABILITY_KEYBOARD) != 0, ptr = (caps & WL_SEAT_CAPABILITY_POINTER) != 0;
    if (kbd && self->keyboard_ == nullptr) {
      self->keyboard_ = wl_seat_get_keyboard(seat);
      wl_keyboard_add_listener(self->keyboard_, &kKeyboardListener, self);
    } else if (!kbd && self->keyboard_ != nullptr) {
      self->ReleaseKeyboard();
    }
    if (ptr && self->pointer_ == nullptr) {
      self->pointer_ = wl_seat_get_pointer(seat);
      wl_pointer_add_listener(self->pointer_, &kPointerListener, self);
    } else if (!ptr && self->pointer_ != nullptr) {
      self->ReleasePointer();
    }
  }
  static void OnSeatName(void*, wl_seat*, const char*) {}
  static constexpr wl_seat_listener kSeatListener = {OnSeatCapabilities, OnSeatName};

  // Key codes are evdev's, as the guest's vkbd takes them; the keymap is the compositor's business.
  static void OnKeymap(void*, wl_keyboard*, uint32_t, int32_t fd, uint32_t) { close(fd); }
  static void OnKeyboardEnter(void* data, wl_keyboard*, uint32_t, wl_surface* s, wl_array*) {
    auto* self = static_cast<WaylandClient*>(data);
    self->keyboardOn_ = self->WindowOf(s);
    if (self->keyboardOn_ != 0) self->Push({"keyboard-enter", self->keyboardOn_, 0});
  }
  static void OnKeyboardLeave(void* data, wl_keyboard*, uint32_t, wl_surface*) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->keyboardOn_ != 0) self->Push({"keyboard-leave", self->keyboardOn_, 0});
    self->keyboardOn_ = 0;
  }
  static void OnKey(void* data, wl_keyboard*, uint32_t, uint32_t, uint32_t key, uint32_t state) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->keyboardOn_ != 0)
      self->PushXY("key", self->keyboardOn_, key, state == WL_KEYBOARD_KEY_STATE_PRESSED ? 1 : 0, 0);
  }
  static void OnModifiers(void*, wl_keyboard*, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {}
  static void OnRepeatInfo(void*, wl_keyboard*, int32_t, int32_t) {}
  static constexpr wl_keyboard_listener kKeyboardListener = {OnKeymap, OnKeyboardEnter, OnKeyboardLeave,
                                                             OnKey,    OnModifiers,     OnRepeatInfo};

  static void OnPointerEnter(void* data, wl_pointer*, uint32_t, wl_surface* s, wl_fixed_t x, wl_fixed_t y) {
    auto* self = static_cast<WaylandClient*>(data);
    self->pointerOn_ = self->WindowOf(s);
    if (self->pointerOn_ != 0)
      self->PushXY("pointer-enter", self->pointerOn_, 0, wl_fixed_to_double(x), wl_fixed_to_double(y));
  }
  static void OnPointerLeave(void* data, wl_pointer*, uint32_t, wl_surface*) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->pointerOn_ != 0) self->Push({"pointer-leave", self->pointerOn_, 0});
    self->pointerOn_ = 0;
  }
  static void OnMotion(void* data, wl_pointer*, uint32_t, wl_fixed_t x, wl_fixed_t y) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->pointerOn_ != 0)
      self->PushXY("motion", self->pointerOn_, 0, wl_fixed_to_double(x), wl_fixed_to_double(y));
  }
  static void OnButton(void* data, wl_pointer*, uint32_t, uint32_t, uint32_t button, uint32_t state) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->pointerOn_ != 0)
      self->PushXY("button", self->pointerOn_, button, state == WL_POINTER_BUTTON_STATE_PRESSED ? 1 : 0, 0);
  }
  static void OnAxis(void*, wl_pointer*, uint32_t, uint32_t, wl_fixed_t) {}
  static void OnPointerFrame(void*, wl_pointer*) {}
  static void OnAxisSource(void*, wl_pointer*, uint32_t) {}
  static void OnAxisStop(void*, wl_pointer*, uint32_t, uint32_t) {}
  static void OnAxisValue120(void*, wl_pointer*, uint32_t, int32_t) {}
  static void OnAxisDiscrete(void* data, wl_pointer*, uint32_t axis, int32_t discrete) {
    auto* self = static_cast<WaylandClient*>(data);
    if (self->pointerOn_ != 0 && axis == WL_POINTER_AXIS_VERTICAL_SCROLL)
      self->PushXY("wheel", self->pointerOn_, 0, discrete, 0);
  }
  static constexpr wl_pointer_listener kPointerListener = {OnPointerEnter, OnPointerLeave, OnMotion,     OnButton,
                                                           OnAxis,         OnPointerFrame, OnAxisSource, OnAxisStop,
                                                           OnAxisDiscrete, OnAxisValue120};

  void ReleaseKeyboard() {
    if (wl_keyboard_get_version(keyboard_) >= 3 && !lost_)
      wl_keyboard_release(keyboard_);
    else
      wl_keyboard_destroy(keyboard_);
    keyboard_ = nullptr;
    keyboardOn_ = 0;
  }
  void ReleasePointer() {
    if (wl_pointer_get_version(pointer_) >= 3 && !lost_)
      wl_pointer_release(pointer_);
    else
      wl_pointer_destroy(pointer_);
    pointer_ = nullptr;
    pointerOn_ = 0;
  }

  static void OnPing(void*, xdg_wm_base* wm, uint32_t serial) { xdg_wm_base_pong(wm, serial); }
  static constexpr xdg_wm_base_listener kWmListener = {OnPing};

  static void OnOutputGeometry(void*, wl_output*, int32_t, int32_t, int32_t, int32_t, int32_t, const char*, const char*,
                               int32_t) {}
  static void OnOutputMode(void* data, wl_output*, uint32_t flags, int32_t w, int32_t h, int32_t refresh) {
    auto* o = static_cast<OutputInfo*>(data);
    if (flags & WL_OUTPUT_MODE_CURRENT) {
      o->width = w;
      o->height = h;
      o->refresh = refresh;
    }
  }
  static void OnOutputDone(void*, wl_output*) {}
  static void OnOutputScale(void*, wl_output*, int32_t) {}
  static void OnOutputName(void* data, wl_output*, const char* name) { static_cast<OutputInfo*>(data)->name = name; }
  static void OnOutputDescription(void* data, wl_output*, const char* d) {
    static_cast<OutputInfo*>(data)->description = d;
  }
  static constexpr wl_output_listener kOutputListener = {OnOutputGeometry, OnOutputMode, OnOutputDone,
                                                         OnOutputScale,    OnOutputName, OnOutputDescription};

  static void OnXdgPosition(void*, zxdg_output_v1*, int32_t, int32_t) {}
  static void OnXdgSize(void*, zxdg_output_v1*, int32_t, int32_t) {}
  static void OnXdgDone(void*, zxdg_output_v1*) {}
  static void OnXdgName(void* data, zxdg_output_v1*, const char* name) {
    static_cast<OutputInfo*>(data)->xdgName = name;
  }
  static void OnXdgDescription(void* data, zxdg_output_v1*, const char* d) {
    static_cast<OutputInfo*>(data)->xdgDescription = d;
  }
  static constexpr zxdg_output_v1_listener kXdgOutputListener = {OnXdgPosition, OnXdgSize, OnXdgDone, OnXdgName,
                                                                 OnXdgDescription};

  // The output's xdg_output, once both it and the manager are bound (whichever came first).
  void WatchXdgOutput(OutputInfo& o) {
    if (xdgOutputs_ == nullptr || o.xdg != nullptr) return;
    o.xdg = zxdg_output_manager_v1_get_xdg_output(xdgOutputs_, o.proxy);
    zxdg_output_v1_add_listener(o.xdg, &kXdgOutputListener, &o);
    waylandCounters().xdgOutputs++;
  }
  // On a lost connection the proxies are only freed: there is no one to send a request to.
  void ReleaseXdgOutput(OutputInfo& o) {
    if (o.xdg == nullptr) return;
    if (lost_)
      wl_proxy_destroy(reinterpret_cast<wl_proxy*>(o.xdg));
    else
      zxdg_output_v1_destroy(o.xdg);
    o.xdg = nullptr;
    waylandCounters().xdgOutputs--;
  }
  void ReleaseOutput(OutputInfo& o) {
    ReleaseXdgOutput(o);
    if (wl_output_get_version(o.proxy) >= 3 && !lost_)
      wl_output_release(o.proxy);
    else
      wl_output_destroy(o.proxy);
    o.proxy = nullptr;
  }

  // ---- window listeners --------------------------------------------------------------------
  static void OnSurfaceConfigure(void* data, xdg_surface* xs, uint32_t serial) {
    auto* w = static_cast<Window*>(data);
    xdg_surface_ack_configure(xs, serial);
    // The ack takes effect with a commit; once the window shows a buffer, commit the same state
    // now rather than at the next frame (a shell may hold the frame callback until it sees it).
    if (w->hasBuffer) wl_surface_commit(w->surface);
    w->client->Push({"configure", w->id, 0});
  }
  static constexpr xdg_surface_listener kSurfaceListener = {OnSurfaceConfigure};

  // The size the compositor suggests is not taken: the window stays at the guest's mode (the
  // TypeScript side documents the choice); only close matters.
  static void OnToplevelConfigure(void*, xdg_toplevel*, int32_t, int32_t, wl_array*) {}
  static void OnToplevelBounds(void*, xdg_toplevel*, int32_t, int32_t) {}
  static void OnToplevelCapabilities(void*, xdg_toplevel*, wl_array*) {}
  static void OnToplevelClose(void* data, xdg_toplevel*) {
    auto* w = static_cast<Window*>(data);
    w->client->Push({"close", w->id, 0});
  }
  static constexpr xdg_toplevel_listener kToplevelListener = {OnToplevelConfigure, OnToplevelClose, OnToplevelBounds,
                                                              OnToplevelCapabilities};

  static void OnFrameDone(void* data, wl_callback* cb, uint32_t timeMs) {
    auto* w = static_cast<Window*>(data);
    wl_callback_destroy(cb);
    w->frame = nullptr;
    w->client->Push({"frame", w->id, timeMs});
  }
  static constexpr wl_callback_listener kFrameListener = {OnFrameDone};

  static void OnBufferRelease(void* data, wl_buffer* b) {
    auto* w = static_cast<Window*>(data);
    w->client->Push({"release", w->id, b == w->buffers[0] ? 0u : 1u});
  }
  static constexpr wl_buffer_listener kBufferListener = {OnBufferRelease};

  static void OnDmabufRelease(void* data, wl_buffer*) {
    auto* d = static_cast<DmabufBuffer*>(data);
    d->window->client->Push({"release", d->window->id, d->id});
  }
  static constexpr wl_buffer_listener kDmabufBufferListener = {OnDmabufRelease};

  static void OnParamsCreated(void* data, zwp_linux_buffer_params_v1* params, wl_buffer* buffer) {
    auto* d = static_cast<DmabufBuffer*>(data);
    zwp_linux_buffer_params_v1_destroy(params);
    d->params = nullptr;
    d->buffer = buffer;
    wl_buffer_add_listener(buffer, &kDmabufBufferListener, d);
    d->window->client->Push({"dmabuf-created", d->window->id, d->id});
  }
  static void OnParamsFailed(void* data, zwp_linux_buffer_params_v1* params) {
    auto* d = static_cast<DmabufBuffer*>(data);
    zwp_linux_buffer_params_v1_destroy(params);
    d->params = nullptr;
    d->window->client->Push({"dmabuf-failed", d->window->id, d->id});
  }
  static constexpr zwp_linux_buffer_params_v1_listener kParamsListener = {OnParamsCreated, OnParamsFailed};

  // Presentation feedback: one per commit, forgotten once it says presented or discarded.
  static void DropFeedback(Window* w, struct wp_presentation_feedback* f) {
    wp_presentation_feedback_destroy(f);
    for (auto it = w->feedbacks.begin(); it != w->feedbacks.end(); ++it)
      if (*it == f) {
        w->feedbacks.erase(it);
        break;
      }
  }
  static void OnSyncOutput(void*, struct wp_presentation_feedback*, wl_output*) {}
  static void OnPresented(void* data, struct wp_presentation_feedback* f, uint32_t secHi, uint32_t secLo, uint32_t nsec,
                          uint32_t refresh, uint32_t, uint32_t, uint32_t) {
    auto* w = static_cast<Window*>(data);
    Event e{"presented", w->id, refresh};
    e.timeNs = ((uint64_t{secHi} << 32) | secLo) * 1000000000ULL + nsec;
    w->client->Push(e);
    DropFeedback(w, f);
  }
  static void OnDiscarded(void* data, struct wp_presentation_feedback* f) {
    auto* w = static_cast<Window*>(data);
    w->client->Push({"discarded", w->id, 0});
    DropFeedback(w, f);
  }
  static constexpr wp_presentation_feedback_listener kFeedbackListener = {OnSyncOutput, OnPresented, OnDiscarded};

  // ---- methods -----------------------------------------------------------------------------
  void Alive(Napi::Env env) {
    if (display_ == nullptr) throw Napi::Error::New(env, "WaylandClient: used after close()");
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) {
    Alive(info.Env());
    return Napi::Number::New(info.Env(), wl_display_get_fd(display_));
  }

  Napi::Value Outputs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Napi::Array a = Napi::Array::New(env, outputs_.size());
    for (size_t i = 0; i < outputs_.size(); i++) {
      const OutputInfo& o = *outputs_[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("name", Napi::String::New(env, o.Name()));
      x.Set("description", Napi::String::New(env, o.Description()));
      x.Set("width", Napi::Number::New(env, o.width));
      x.Set("height", Napi::Number::New(env, o.height));
      x.Set("refreshMilliHz", Napi::Number::New(env, o.refresh));
      a.Set(i, x);
    }
    return a;
  }

  Napi::Value ShmFormats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Napi::Array a = Napi::Array::New(env, shmFormats_.size());
    for (size_t i = 0; i < shmFormats_.size(); i++) a.Set(i, Napi::Number::New(env, shmFormats_[i]));
    return a;
  }

  // dmabufFormats(): null when the compositor offers no zwp_linux_dmabuf_v1, else the
  // [fourcc, modifier] pairs it takes (modifier a BigInt; 0xffffffffffffff: implicit).
  Napi::Value DmabufFormats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    if (dmabuf_ == nullptr) return env.Null();
    Napi::Array a = Napi::Array::New(env, dmabufFormats_.size());
    for (size_t i = 0; i < dmabufFormats_.size(); i++) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, dmabufFormats_[i].first));
      pair.Set(1u, Napi::BigInt::New(env, dmabufFormats_[i].second));
      a.Set(i, pair);
    }
    return a;
  }

  // presentationClock(): the clock wp_presentation timestamps are on, -1 when it is not offered.
  Napi::Value PresentationClock(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    return Napi::Number::New(env, presentation_ == nullptr ? -1 : clockId_);
  }

  // createDmabuf(window, fd, width, height, fourcc, offset, stride, modifier) -> buffer id: a
  // one-plane dma-buf wl_buffer for the window, asked of the compositor. It answers with the event
  // dmabuf-created (commit() may show it) or dmabuf-failed (the id is gone). The fd stays the
  // caller's: libwayland sends a duplicate.
  Napi::Value CreateDmabuf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Window* w = Find(env, info);
    if (lost_) ThrowErrno(env, "createDmabuf", EPIPE);
    if (dmabuf_ == nullptr) ThrowErrno(env, "createDmabuf: no zwp_linux_dmabuf_v1", ENOTSUP);
    int fd = static_cast<int>(ArgU32(info, 1, "fd"));
    uint32_t width = ArgU32(info, 2, "width"), height = ArgU32(info, 3, "height");
    uint32_t fourcc = ArgU32(info, 4, "fourcc"), offset = ArgU32(info, 5, "offset"), stride = ArgU32(info, 6, "stride");
    if (info.Length() < 8 || !info[7].IsBigInt()) throw Napi::TypeError::New(env, "modifier must be a BigInt");
    bool lossless = false;
    uint64_t modifier = info[7].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "modifier out of range");
    if (width == 0 || height == 0 || width > 16384 || height > 16384 || stride == 0)
      throw Napi::RangeError::New(env, "createDmabuf: bad geometry");
    auto d = std::make_unique<DmabufBuffer>();
    d->window = w;
    d->id = ++w->lastBufferId;
    d->params = zwp_linux_dmabuf_v1_create_params(dmabuf_);
    zwp_linux_buffer_params_v1_add_listener(d->params, &kParamsListener, d.get());
    zwp_linux_buffer_params_v1_add(d->params, fd, 0, offset, stride, static_cast<uint32_t>(modifier >> 32),
                                   static_cast<uint32_t>(modifier & 0xffffffffu));
    zwp_linux_buffer_params_v1_create(d->params, static_cast<int32_t>(width), static_cast<int32_t>(height), fourcc, 0);
    waylandCounters().dmabufBuffers++;
    uint32_t id = d->id;
    w->dmabufs[id] = std::move(d);
    return Napi::Number::New(env, id);
  }

  // destroyBuffer(window, id): a dma-buf buffer (created, failed or still asked for). What the
  // surface shows stays on screen until the next commit; unknown ids are ignored.
  Napi::Value DestroyBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Window* w = Find(env, info);
    uint32_t id = ArgU32(info, 1, "buffer");
    auto it = w->dmabufs.find(id);
    if (it == w->dmabufs.end()) return env.Undefined();
    FreeDmabuf(*it->second);
    w->dmabufs.erase(it);
    std::vector<Event> keep;
    for (auto& e : events_)
      if (!(e.window == w->id && e.value == id &&
            (std::strcmp(e.type, "release") == 0 || std::strncmp(e.type, "dmabuf-", 7) == 0)))
        keep.push_back(e);
    events_.swap(keep);
    if (!lost_) wl_display_flush(display_);
    return env.Undefined();
  }

  static void FreeDmabuf(DmabufBuffer& d) {
    if (d.params) zwp_linux_buffer_params_v1_destroy(d.params);
    if (d.buffer) wl_buffer_destroy(d.buffer);
    d.params = nullptr;
    d.buffer = nullptr;
    waylandCounters().dmabufBuffers--;
  }

  // Reads what the socket holds (never blocks), runs the listeners and returns their events in
  // order. A dead connection (compositor gone, protocol error) is the event {type:'lost', errno};
  // after it the client only accepts destroyWindow() and close().
  Napi::Value Dispatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    if (!lost_) {
      while (wl_display_prepare_read(display_) != 0) {
        if (wl_display_dispatch_pending(display_) < 0) break;
      }
      if (wl_display_get_error(display_) == 0) {
        wl_display_flush(display_);
        if (wl_display_read_events(display_) < 0 || wl_display_dispatch_pending(display_) < 0) {
        }
      } else {
        wl_display_cancel_read(display_);
      }
      int err = wl_display_get_error(display_);
      if (err != 0) {
        lost_ = true;
        Push({"lost", 0, static_cast<uint32_t>(err)});
      }
    }
    Napi::Array a = Napi::Array::New(env, events_.size());
    for (size_t i = 0; i < events_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", Napi::String::New(env, events_[i].type));
      o.Set("window", Napi::Number::New(env, events_[i].window));
      o.Set("value", Napi::Number::New(env, events_[i].value));
      if (events_[i].timeNs != 0) o.Set("timeNs", Napi::BigInt::New(env, events_[i].timeNs));
      if (events_[i].hasXY) {
        o.Set("x", Napi::Number::New(env, events_[i].x));
        o.Set("y", Napi::Number::New(env, events_[i].y));
      }
      a.Set(i, o);
    }
    events_.clear();
    return a;
  }

  // Sends queued requests: 0 all sent, 1 the socket is full (poll for writable and call again),
  // -errno when the connection is dead (dispatch() then reports it).
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    if (lost_) return Napi::Number::New(env, -EPIPE);
    if (wl_display_flush(display_) >= 0) return Napi::Number::New(env, 0);
    if (errno == EAGAIN) return Napi::Number::New(env, 1);
    return Napi::Number::New(env, -errno);
  }

  // createWindow(title, appId, width, height, stride, shmFormat, outputName) ->
  //   { id, buffers: [ArrayBuffer, ArrayBuffer] }. outputName '' = a window, else full screen on
  // that wl_output (ENODEV when there is none of that name). The buffers are the two halves of
  // one shm pool, writable, detached by destroyWindow().
  Napi::Value CreateWindow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    if (lost_) ThrowErrno(env, "createWindow", EPIPE);
    std::string title = ArgString(info, 0, "title");
    std::string appId = ArgString(info, 1, "appId");
    uint32_t width = ArgU32(info, 2, "width"), height = ArgU32(info, 3, "height"), stride = ArgU32(info, 4, "stride");
    uint32_t format = ArgU32(info, 5, "shmFormat");
    std::string outputName = ArgString(info, 6, "outputName");
    if (width == 0 || height == 0 || width > 16384 || height > 16384 || stride < width || stride % 4 != 0 ||
        stride > 16384 * 8)
      throw Napi::RangeError::New(env, "createWindow: bad geometry");
    wl_output* fullscreenOn = nullptr;
    if (!outputName.empty()) {
      for (auto& o : outputs_)
        if (o->Name() == outputName) fullscreenOn = o->proxy;
      if (fullscreenOn == nullptr) ThrowErrno(env, "createWindow: no wl_output " + outputName, ENODEV);
    }
    auto w = std::make_unique<Window>();
    w->client = this;
    w->id = ++lastId_;
    w->width = static_cast<int32_t>(width);
    w->height = static_cast<int32_t>(height);
    w->bufferBytes = static_cast<size_t>(stride) * height;
    w->memfd = memfd_create("vdispld-wayland", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (w->memfd < 0) ThrowErrno(env, "memfd_create", errno);
    waylandCounters().shmPools++;
    if (ftruncate(w->memfd, static_cast<off_t>(w->bufferBytes * 2)) != 0) {
      int err = errno;
      FreeWindow(*w);
      ThrowErrno(env, "ftruncate", err);
    }
    // The size is fixed for the pool's life: seal it so neither side can shrink it under the other.
    fcntl(w->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    w->map = mmap(nullptr, w->bufferBytes * 2, PROT_READ | PROT_WRITE, MAP_SHARED, w->memfd, 0);
    if (w->map == MAP_FAILED) {
      int err = errno;
      FreeWindow(*w);
      ThrowErrno(env, "mmap", err);
    }
    w->pool = wl_shm_create_pool(shm_, w->memfd, static_cast<int32_t>(w->bufferBytes * 2));
    Napi::Array views = Napi::Array::New(env, 2);
    for (int i = 0; i < 2; i++) {
      w->buffers[i] = wl_shm_pool_create_buffer(w->pool, static_cast<int32_t>(w->bufferBytes * i), w->width, w->height,
                                                static_cast<int32_t>(stride), format);
      wl_buffer_add_listener(w->buffers[i], &kBufferListener, w.get());
      Napi::ArrayBuffer ab =
          Napi::ArrayBuffer::New(env, static_cast<uint8_t*>(w->map) + w->bufferBytes * i, w->bufferBytes);
      w->views[i] = Napi::Persistent(ab);
      views.Set(i, ab);
    }
    w->surface = wl_compositor_create_surface(compositor_);
    w->xsurface = xdg_wm_base_get_xdg_surface(wm_, w->surface);
    xdg_surface_add_listener(w->xsurface, &kSurfaceListener, w.get());
    w->toplevel = xdg_surface_get_toplevel(w->xsurface);
    xdg_toplevel_add_listener(w->toplevel, &kToplevelListener, w.get());
    xdg_toplevel_set_title(w->toplevel, title.c_str());
    xdg_toplevel_set_app_id(w->toplevel, appId.c_str());
    // The guest's mode is the only size it has: say so, so tiling compositors float it.
    xdg_toplevel_set_min_size(w->toplevel, w->width, w->height);
    xdg_toplevel_set_max_size(w->toplevel, w->width, w->height);
    if (fullscreenOn != nullptr) xdg_toplevel_set_fullscreen(w->toplevel, fullscreenOn);
    wl_surface_commit(w->surface);  // no buffer: asks for the first configure
    waylandCounters().windows++;
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", Napi::Number::New(env, w->id));
    r.Set("buffers", views);
    windows_[w->id] = std::move(w);
    return r;
  }

  Window* Find(Napi::Env env, const Napi::CallbackInfo& info) {
    uint32_t id = ArgU32(info, 0, "window");
    auto it = windows_.find(id);
    if (it == windows_.end()) throw Napi::RangeError::New(env, "no window " + std::to_string(id));
    return it->second.get();
  }

  // commit(window, buffer): shows buffer 0 or 1 (the shm halves) or a created dma-buf buffer
  // whole and asks for a frame callback, which arrives as the event {type:'frame'} when the
  // compositor wants the next frame, and, where wp_presentation is offered, for feedback: the
  // event presented (when it turned to light) or discarded (never shown).
  Napi::Value Commit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Window* w = Find(env, info);
    uint32_t b = ArgU32(info, 1, "buffer");
    wl_buffer* buffer = nullptr;
    if (b <= 1) {
      buffer = w->buffers[b];
    } else {
      auto it = w->dmabufs.find(b);
      if (it == w->dmabufs.end() || it->second->buffer == nullptr)
        throw Napi::RangeError::New(env, "no created buffer " + std::to_string(b));
      buffer = it->second->buffer;
    }
    if (lost_) return env.Undefined();
    wl_surface_attach(w->surface, buffer, 0, 0);
    w->hasBuffer = true;
    wl_surface_damage_buffer(w->surface, 0, 0, w->width, w->height);
    if (w->frame == nullptr) {
      w->frame = wl_surface_frame(w->surface);
      wl_callback_add_listener(w->frame, &kFrameListener, w);
    }
    if (presentation_ != nullptr) {
      struct wp_presentation_feedback* f = wp_presentation_feedback(presentation_, w->surface);
      wp_presentation_feedback_add_listener(f, &kFeedbackListener, w);
      w->feedbacks.push_back(f);
    }
    wl_surface_commit(w->surface);
    return env.Undefined();
  }

  Napi::Value SetTitle(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    Window* w = Find(env, info);
    std::string title = ArgString(info, 1, "title");
    if (!lost_) xdg_toplevel_set_title(w->toplevel, title.c_str());
    return env.Undefined();
  }

  Napi::Value DestroyWindow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Alive(env);
    uint32_t id = ArgU32(info, 0, "window");
    auto it = windows_.find(id);
    if (it == windows_.end()) return env.Undefined();
    FreeWindow(*it->second);
    windows_.erase(it);
    if (keyboardOn_ == id) keyboardOn_ = 0;
    if (pointerOn_ == id) pointerOn_ = 0;
    // Events already queued for it mean nothing now.
    std::vector<Event> keep;
    for (auto& e : events_)
      if (e.window != id) keep.push_back(e);
    events_.swap(keep);
    if (!lost_) wl_display_flush(display_);
    return env.Undefined();
  }

  // Idempotent: every window, global and the connection.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (display_ != nullptr) Teardown(true);
    if (hooked_) {
      cleanup_.Remove(info.Env());
      hooked_ = false;
    }
    return info.Env().Undefined();
  }

  void FreeWindow(Window& w, bool detach = true) {
    // JavaScript views first: nothing may touch the pages once they are unmapped.
    for (auto& v : w.views) {
      if (!v.IsEmpty() && detach) {
        Napi::HandleScope scope(Env());
        Napi::ArrayBuffer ab = v.Value();
        if (!ab.IsDetached()) ab.Detach();
      }
      v.Reset();
    }
    if (w.frame) wl_callback_destroy(w.frame);
    for (auto* f : w.feedbacks) wp_presentation_feedback_destroy(f);
    for (auto& [id, d] : w.dmabufs) FreeDmabuf(*d);
    w.dmabufs.clear();
    if (w.toplevel) {
      xdg_toplevel_destroy(w.toplevel);
      waylandCounters().windows--;
    }
    if (w.xsurface) xdg_surface_destroy(w.xsurface);
    if (w.surface) wl_surface_destroy(w.surface);
    for (auto* b : w.buffers)
      if (b) wl_buffer_destroy(b);
    if (w.pool) wl_shm_pool_destroy(w.pool);
    if (w.map != MAP_FAILED) munmap(w.map, w.bufferBytes * 2);
    if (w.memfd >= 0) {
      close(w.memfd);
      waylandCounters().shmPools--;
    }
    w = Window();
  }

  void Teardown(bool detach) {
    for (auto& [id, w] : windows_) FreeWindow(*w, detach);
    windows_.clear();
    events_.clear();
    for (auto& o : outputs_) ReleaseOutput(*o);
    outputs_.clear();
    if (xdgOutputs_) zxdg_output_manager_v1_destroy(xdgOutputs_);
    xdgOutputs_ = nullptr;
    if (wm_) xdg_wm_base_destroy(wm_);
    if (keyboard_) ReleaseKeyboard();
    if (pointer_) ReleasePointer();
    if (seat_) {
      if (wl_seat_get_version(seat_) >= 5 && !lost_)
        wl_seat_release(seat_);
      else
        wl_seat_destroy(seat_);
      seat_ = nullptr;
    }
    if (dmabuf_) zwp_linux_dmabuf_v1_destroy(dmabuf_);
    if (presentation_) wp_presentation_destroy(presentation_);
    dmabuf_ = nullptr;
    presentation_ = nullptr;
    dmabufFormats_.clear();
    if (shm_) wl_shm_destroy(shm_);
    if (compositor_) wl_compositor_destroy(compositor_);
    if (registry_) wl_registry_destroy(registry_);
    wm_ = nullptr;
    shm_ = nullptr;
    compositor_ = nullptr;
    registry_ = nullptr;
    if (display_) {
      wl_display_flush(display_);
      wl_display_disconnect(display_);
      display_ = nullptr;
      waylandCounters().connections--;
    }
  }

  wl_display* display_ = nullptr;
  wl_registry* registry_ = nullptr;
  wl_compositor* compositor_ = nullptr;
  wl_shm* shm_ = nullptr;
  xdg_wm_base* wm_ = nullptr;
  zwp_linux_dmabuf_v1* dmabuf_ = nullptr;
  wl_seat* seat_ = nullptr;
  wl_keyboard* keyboard_ = nullptr;
  wl_pointer* pointer_ = nullptr;
  uint32_t keyboardOn_ = 0;  // the window with keyboard focus (0: none of ours)
  uint32_t pointerOn_ = 0;
  wp_presentation* presentation_ = nullptr;
  int32_t clockId_ = 1;  // CLOCK_MONOTONIC until the compositor says
  std::vector<std::pair<uint32_t, uint64_t>> dmabufFormats_;
  std::vector<std::unique_ptr<OutputInfo>> outputs_;
  zxdg_output_manager_v1* xdgOutputs_ = nullptr;
  uint32_t xdgOutputsGlobal_ = 0;
  std::vector<uint32_t> shmFormats_;
  std::map<uint32_t, std::unique_ptr<Window>> windows_;
  std::vector<Event> events_;
  uint32_t lastId_ = 0;
  bool lost_ = false;
  bool hooked_ = false;
  Napi::Env::CleanupHook<std::function<void()>> cleanup_;
};

// resources(): the module's live objects, for leak checks.
Napi::Value Resources(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WaylandCounters& c = waylandCounters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("connections", Napi::Number::New(env, static_cast<double>(c.connections.load())));
  o.Set("windows", Napi::Number::New(env, static_cast<double>(c.windows.load())));
  o.Set("shmPools", Napi::Number::New(env, static_cast<double>(c.shmPools.load())));
  o.Set("dmabufBuffers", Napi::Number::New(env, static_cast<double>(c.dmabufBuffers.load())));
  o.Set("xdgOutputs", Napi::Number::New(env, static_cast<double>(c.xdgOutputs.load())));
  return o;
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("WaylandClient", WaylandClient::Define(env));
  exports.Set("resources", Napi::Function::New(env, Resources, "resources"));
});

}  // namespace
}  // namespace vdispl
