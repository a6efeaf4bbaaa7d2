// /dev/xen/evtchn: bind interdomain event channels, notify, unbind. One descriptor serves every
// binding: the kernel queues the ports that fired (masking each until we write it back), and
// readiness of the descriptor comes from a poller (poller.cc), never from a blocking read.
#include <unistd.h>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>
#include "xen_uapi.h"
#include "device.h"
#include "registry.h"

namespace vdispl {
namespace {

static_assert(sizeof(struct ioctl_evtchn_bind_interdomain) == 8, "bind_interdomain is {domain, port}");
static_assert(IOCTL_EVTCHN_BIND_INTERDOMAIN == 0x00084501, "BIND_INTERDOMAIN number");
static_assert(IOCTL_EVTCHN_UNBIND == 0x00044503, "UNBIND number");
static_assert(IOCTL_EVTCHN_NOTIFY == 0x00044504, "NOTIFY number");
static_assert(IOCTL_EVTCHN_RESTRICT_DOMID == 0x00024506, "RESTRICT_DOMID number");

// One read returns at most this many ports; the rest stay queued for the next readiness callback,
// which bounds the work done per event-loop turn.
constexpr size_t kMaxPortsPerRead = 1024;

class Evtchn : public Napi::ObjectWrap<Evtchn> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Evtchn",
                       {
                           InstanceAccessor<&Evtchn::Fd>("fd"),
                           InstanceMethod<&Evtchn::BindInterdomain>("bindInterdomain"),
                           InstanceMethod<&Evtchn::Notify>("notify"),
                           InstanceMethod<&Evtchn::Unbind>("unbind"),
                           InstanceMethod<&Evtchn::RestrictDomid>("restrictDomid"),
                           InstanceMethod<&Evtchn::ReadPending>("readPending"),
                           InstanceMethod<&Evtchn::Unmask>("unmask"),
                           InstanceMethod<&Evtchn::Close>("close"),
                       });
  }

  explicit Evtchn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Evtchn>(info) {
    dev_ = OpenDevice(info.Env(), ArgString(info, 0, "path"), O_RDWR | O_NONBLOCK, "evtchn");
  }

  ~Evtchn() override { Forget(); }

 private:
  const DevicePtr& Dev(Napi::Env env) {
    if (!dev_) throw Napi::Error::New(env, "evtchn: used after close()");
    return dev_;
  }
  void Forget() {
    counters().evtchnBindings -= static_cast<int64_t>(bound_.size());
    bound_.clear();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), dev_ ? dev_->fd : -1); }

  // bindInterdomain(remoteDomid, remotePort) -> local port
  Napi::Value BindInterdomain(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    struct ioctl_evtchn_bind_interdomain op;
    op.remote_domain = ArgU32(info, 0, "remoteDomid");
    op.remote_port = ArgU32(info, 1, "remotePort");
    long r = IoctlRetry(dev->fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &op);
    if (r < 0) dev->Throw(info.Env(), "IOCTL_EVTCHN_BIND_INTERDOMAIN", static_cast<int>(-r));
    uint32_t port = static_cast<uint32_t>(r);
    if (bound_.insert(port).second) counters().evtchnBindings++;
    return Napi::Number::New(info.Env(), port);
  }

  Napi::Value Notify(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    struct ioctl_evtchn_notify op;
    op.port = ArgU32(info, 0, "port");
    long r = IoctlRetry(dev->fd, IOCTL_EVTCHN_NOTIFY, &op);
    if (r < 0) dev->Throw(info.Env(), "IOCTL_EVTCHN_NOTIFY", static_cast<int>(-r));
    return info.Env().Undefined();
  }

  Napi::Value Unbind(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    struct ioctl_evtchn_unbind op;
    op.port = ArgU32(info, 0, "port");
    long r = IoctlRetry(dev->fd, IOCTL_EVTCHN_UNBIND, &op);
    if (bound_.erase(op.port) > 0) counters().evtchnBindings--;
    if (r < 0) dev->Throw(info.Env(), "IOCTL_EVTCHN_UNBIND", static_cast<int>(-r));
    return info.Env().Undefined();
  }

  // restrictDomid(domid): from now on this descriptor can only bind to `domid` (hardening for a
  // process that serves one guest).
  Napi::Value RestrictDomid(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    uint32_t domid = ArgU32(info, 0, "domid");
    if (domid > 0xffff) throw Napi::RangeError::New(info.Env(), "restrictDomid: domid must be a u16");
    struct ioctl_evtchn_restrict_domid op;
    op.domid = static_cast<domid_t>(domid);
    long r = IoctlRetry(dev->fd, IOCTL_EVTCHN_RESTRICT_DOMID, &op);
    if (r < 0) dev->Throw(info.Env(), "IOCTL_EVTCHN_RESTRICT_DOMID", static_cast<int>(-r));
    return info.Env().Undefined();
  }

  // readPending() -> Uint32Array of ports that fired (each now masked until unmask()), empty when
  // none; null when the kernel's queue overflowed — it is reset and the caller must treat every
  // bound port as pending.
  Napi::Value ReadPending(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const DevicePtr& dev = Dev(env);
    uint32_t ports[kMaxPortsPerRead];
    ssize_t n;
    do n = ::read(dev->fd, ports, sizeof ports);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Uint32Array::New(env, 0);
      if (errno == EFBIG) {
        long r = IoctlRetry(dev->fd, IOCTL_EVTCHN_RESET, nullptr);
        if (r < 0) dev->Throw(env, "IOCTL_EVTCHN_RESET", static_cast<int>(-r));
        return env.Null();
      }
      dev->Throw(env, "read", errno);
    }
    size_t count = static_cast<size_t>(n) / sizeof(uint32_t);
    Napi::Uint32Array out = Napi::Uint32Array::New(env, count);
    std::memcpy(out.Data(), ports, count * sizeof(uint32_t));
    return out;
  }

  // unmask(ports: Uint32Array): re-enables delivery for these ports (write them back).
  Napi::Value Unmask(const Napi::CallbackInfo& info) {
    const DevicePtr& dev = Dev(info.Env());
    std::vector<uint32_t> ports = ArgU32Array(info, 0, "ports");
    if (ports.empty()) return info.Env().Undefined();
    size_t len = ports.size() * sizeof(uint32_t);
    ssize_t n;
    do n = ::write(dev->fd, ports.data(), len);
    while (n < 0 && errno == EINTR);
    if (n < 0) dev->Throw(info.Env(), "write (unmask)", errno);
    return info.Env().Undefined();
  }

  // Idempotent; closing the descriptor unbinds every port it still holds.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Forget();
    dev_.reset();
    return info.Env().Undefined();
  }

  DevicePtr dev_;
  std::set<uint32_t> bound_;
};

Register reg([](Napi::Env env, Napi::Object exports) { exports.Set("Evtchn", Evtchn::Define(env)); });

}  // namespace
}  // namespace vdispl
