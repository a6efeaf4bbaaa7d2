// The evdev ioctls the input source needs on a /dev/input/event* descriptor: what the device is
// (name, event types, keys, axes and their ranges, INPUT_PROP_DIRECT) and the exclusive grab.
// Reading events is the descriptor mechanism's readFd; interpreting them is TypeScript's.
#include <linux/input.h>
#include <sys/ioctl.h>
#include <cerrno>
#include <cstring>
#include "errors.h"
#include "registry.h"

namespace vdispl {
namespace {

constexpr size_t kLong = sizeof(unsigned long) * 8;
template <size_t N>
bool TestBit(const unsigned long (&bits)[N], unsigned bit) {
  return bit / kLong < N && (bits[bit / kLong] >> (bit % kLong)) & 1UL;
}

Napi::Value EvdevInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  char name[256] = {0};
  if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) < 0) ThrowErrno(env, "EVIOCGNAME", errno);
  unsigned long ev[(EV_MAX + kLong) / kLong] = {0};
  unsigned long keys[(KEY_MAX + kLong) / kLong] = {0};
  unsigned long abs[(ABS_MAX + kLong) / kLong] = {0};
  unsigned long rel[(REL_MAX + kLong) / kLong] = {0};
  unsigned long props[(INPUT_PROP_MAX + kLong) / kLong] = {0};
  if (ioctl(fd, EVIOCGBIT(0, sizeof(ev)), ev) < 0) ThrowErrno(env, "EVIOCGBIT", errno);
  if (TestBit(ev, EV_KEY) && ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0)
    ThrowErrno(env, "EVIOCGBIT(EV_KEY)", errno);
  if (TestBit(ev, EV_ABS) && ioctl(fd, EVIOCGBIT(EV_ABS, sizeof(abs)), abs) < 0)
    ThrowErrno(env, "EVIOCGBIT(EV_ABS)", errno);
  if (TestBit(ev, EV_REL) && ioctl(fd, EVIOCGBIT(EV_REL, sizeof(rel)), rel) < 0)
    ThrowErrno(env, "EVIOCGBIT(EV_REL)", errno);
  if (ioctl(fd, EVIOCGPROP(sizeof(props)), props) < 0) memset(props, 0, sizeof(props));
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, name));
  Napi::Array k = Napi::Array::New(env);
  uint32_t n = 0;
  for (unsigned c = 0; c < KEY_MAX; c++)
    if (TestBit(keys, c)) k.Set(n++, Napi::Number::New(env, c));
  out.Set("keys", k);
  Napi::Array r = Napi::Array::New(env);
  n = 0;
  for (unsigned c = 0; c < REL_MAX; c++)
    if (TestBit(rel, c)) r.Set(n++, Napi::Number::New(env, c));
  out.Set("rel", r);
  Napi::Object a = Napi::Object::New(env);
  for (unsigned c = 0; c < ABS_MAX; c++) {
    if (!TestBit(abs, c)) continue;
    struct input_absinfo ai;
    if (ioctl(fd, EVIOCGABS(c), &ai) < 0) continue;
    Napi::Object range = Napi::Object::New(env);
    range.Set("min", Napi::Number::New(env, ai.minimum));
    range.Set("max", Napi::Number::New(env, ai.maximum));
    a.Set(std::to_string(c), range);
  }
  out.Set("abs", a);
  out.Set("direct", Napi::Boolean::New(env, TestBit(props, INPUT_PROP_DIRECT)));
  return out;
}

// evdevGrab(fd, on): EVIOCGRAB. While grabbed, no other reader (the console, a compositor) sees the device.
Napi::Value EvdevGrab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  bool on = info.Length() > 1 && info[1].ToBoolean().Value();
  if (ioctl(fd, EVIOCGRAB, on ? 1 : 0) < 0) ThrowErrno(env, "EVIOCGRAB", errno);
  return env.Undefined();
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("evdevInfo", Napi::Function::New(env, EvdevInfo, "evdevInfo"));
  exports.Set("evdevGrab", Napi::Function::New(env, EvdevGrab, "evdevGrab"));
});

}  // namespace
}  // namespace vdispl
