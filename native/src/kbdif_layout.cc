// The kbdif wire layout as the compiler sees it in xen/io/kbdif.h, so tests hold the TypeScript
// codec against the header rather than against our reading of it.
#include <cstddef>
#include <cstdint>
extern "C" {
#include <xen/io/kbdif.h>
}
#include "registry.h"

namespace vdispl {
namespace {

Napi::Value KbdifLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object root = Napi::Object::New(env);
  Napi::Object fields;
  auto open = [&](const char* name, size_t size) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("size", Napi::Number::New(env, static_cast<double>(size)));
    fields = Napi::Object::New(env);
    s.Set("fields", fields);
    root.Set(name, s);
  };
  auto field = [&](const char* name, size_t off) {
    fields.Set(name, Napi::Number::New(env, static_cast<double>(off)));
  };
#define STRUCT(t) open(#t, sizeof(struct t))
#define FIELD(t, f) field(#f, offsetof(struct t, f))
  STRUCT(xenkbd_motion);
  FIELD(xenkbd_motion, type);
  FIELD(xenkbd_motion, rel_x);
  FIELD(xenkbd_motion, rel_y);
  FIELD(xenkbd_motion, rel_z);
  STRUCT(xenkbd_key);
  FIELD(xenkbd_key, type);
  FIELD(xenkbd_key, pressed);
  FIELD(xenkbd_key, keycode);
  STRUCT(xenkbd_position);
  FIELD(xenkbd_position, type);
  FIELD(xenkbd_position, abs_x);
  FIELD(xenkbd_position, abs_y);
  FIELD(xenkbd_position, rel_z);
  STRUCT(xenkbd_mtouch);
  FIELD(xenkbd_mtouch, type);
  FIELD(xenkbd_mtouch, event_type);
  FIELD(xenkbd_mtouch, contact_id);
  FIELD(xenkbd_mtouch, reserved);
  FIELD(xenkbd_mtouch, u);
  STRUCT(xenkbd_page);
  FIELD(xenkbd_page, in_cons);
  FIELD(xenkbd_page, in_prod);
  FIELD(xenkbd_page, out_cons);
  FIELD(xenkbd_page, out_prod);
#undef STRUCT
#undef FIELD
  // Offsets inside the union, which the TypeScript side spells as u + n.
  Napi::Object u = Napi::Object::New(env);
  u.Set("pos.abs_x", Napi::Number::New(env, static_cast<double>(offsetof(struct xenkbd_mtouch, u.pos.abs_x))));
  u.Set("pos.abs_y", Napi::Number::New(env, static_cast<double>(offsetof(struct xenkbd_mtouch, u.pos.abs_y))));
  u.Set("shape.major", Napi::Number::New(env, static_cast<double>(offsetof(struct xenkbd_mtouch, u.shape.major))));
  u.Set("shape.minor", Napi::Number::New(env, static_cast<double>(offsetof(struct xenkbd_mtouch, u.shape.minor))));
  u.Set("orientation", Napi::Number::New(env, static_cast<double>(offsetof(struct xenkbd_mtouch, u.orientation))));
  u.Set("in_event", Napi::Number::New(env, static_cast<double>(sizeof(union xenkbd_in_event))));
  u.Set("out_event", Napi::Number::New(env, static_cast<double>(sizeof(union xenkbd_out_event))));
  root.Set("union", u);

  Napi::Object c = Napi::Object::New(env);
#define CONST(x) c.Set(#x, Napi::Number::New(env, static_cast<double>(x)))
  CONST(XENKBD_TYPE_MOTION);
  CONST(XENKBD_TYPE_RESERVED);
  CONST(XENKBD_TYPE_KEY);
  CONST(XENKBD_TYPE_POS);
  CONST(XENKBD_TYPE_MTOUCH);
  CONST(XENKBD_MT_EV_DOWN);
  CONST(XENKBD_MT_EV_UP);
  CONST(XENKBD_MT_EV_MOTION);
  CONST(XENKBD_MT_EV_SYN);
  CONST(XENKBD_MT_EV_SHAPE);
  CONST(XENKBD_MT_EV_ORIENT);
  CONST(XENKBD_IN_EVENT_SIZE);
  CONST(XENKBD_OUT_EVENT_SIZE);
  CONST(XENKBD_IN_RING_SIZE);
  CONST(XENKBD_IN_RING_LEN);
  CONST(XENKBD_IN_RING_OFFS);
  CONST(XENKBD_OUT_RING_SIZE);
  CONST(XENKBD_OUT_RING_LEN);
  CONST(XENKBD_OUT_RING_OFFS);
#undef CONST
  Napi::Object s = Napi::Object::New(env);
#define STR(x) s.Set(#x, x)
  STR(XENKBD_DRIVER_NAME);
  STR(XENKBD_FIELD_FEAT_DSBL_KEYBRD);
  STR(XENKBD_FIELD_FEAT_DSBL_POINTER);
  STR(XENKBD_FIELD_FEAT_ABS_POINTER);
  STR(XENKBD_FIELD_FEAT_RAW_POINTER);
  STR(XENKBD_FIELD_FEAT_MTOUCH);
  STR(XENKBD_FIELD_REQ_ABS_POINTER);
  STR(XENKBD_FIELD_REQ_RAW_POINTER);
  STR(XENKBD_FIELD_REQ_MTOUCH);
  STR(XENKBD_FIELD_RING_GREF);
  STR(XENKBD_FIELD_EVT_CHANNEL);
  STR(XENKBD_FIELD_WIDTH);
  STR(XENKBD_FIELD_HEIGHT);
  STR(XENKBD_FIELD_MT_WIDTH);
  STR(XENKBD_FIELD_MT_HEIGHT);
  STR(XENKBD_FIELD_MT_NUM_CONTACTS);
  STR(XENKBD_FIELD_UNIQUE_ID);
  STR(XENKBD_FIELD_RING_REF);
#undef STR
  root.Set("constants", c);
  root.Set("strings", s);
  return root;
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("kbdifLayout", Napi::Function::New(env, KbdifLayout, "kbdifLayout"));
});

}  // namespace
}  // namespace vdispl
