// The displif wire layout as the compiler sees it in the real Xen headers, so tests can hold the
// TypeScript codec against xen/io/displif.h instead of against our reading of it.
#include <cstddef>
#include <cstdint>
extern "C" {
#include <xen/io/displif.h>
}
#include "registry.h"

namespace vdispl {
namespace {

struct Builder {
  Napi::Env env;
  Napi::Object root;
  Napi::Object current;
  Napi::Object Struct(const char* name, size_t size) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("size", Napi::Number::New(env, static_cast<double>(size)));
    current = Napi::Object::New(env);
    s.Set("fields", current);
    root.Set(name, s);
    return s;
  }
  void Field(const char* name, size_t off) { current.Set(name, Napi::Number::New(env, static_cast<double>(off))); }
};

#define STRUCT(t) b.Struct(#t, sizeof(struct t))
#define FIELD(t, f) b.Field(#f, offsetof(struct t, f))

Napi::Value DisplifLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Builder b{env, Napi::Object::New(env), Napi::Object()};

  STRUCT(xendispl_req);
  FIELD(xendispl_req, id);
  FIELD(xendispl_req, operation);
  FIELD(xendispl_req, reserved);
  FIELD(xendispl_req, op);
  STRUCT(xendispl_resp);
  FIELD(xendispl_resp, id);
  FIELD(xendispl_resp, operation);
  FIELD(xendispl_resp, reserved);
  FIELD(xendispl_resp, status);
  FIELD(xendispl_resp, op);
  STRUCT(xendispl_evt);
  FIELD(xendispl_evt, id);
  FIELD(xendispl_evt, type);
  FIELD(xendispl_evt, reserved);
  FIELD(xendispl_evt, op);
  STRUCT(xendispl_dbuf_create_req);
  FIELD(xendispl_dbuf_create_req, dbuf_cookie);
  FIELD(xendispl_dbuf_create_req, width);
  FIELD(xendispl_dbuf_create_req, height);
  FIELD(xendispl_dbuf_create_req, bpp);
  FIELD(xendispl_dbuf_create_req, buffer_sz);
  FIELD(xendispl_dbuf_create_req, flags);
  FIELD(xendispl_dbuf_create_req, gref_directory);
  FIELD(xendispl_dbuf_create_req, data_ofs);
  STRUCT(xendispl_dbuf_destroy_req);
  FIELD(xendispl_dbuf_destroy_req, dbuf_cookie);
  STRUCT(xendispl_fb_attach_req);
  FIELD(xendispl_fb_attach_req, dbuf_cookie);
  FIELD(xendispl_fb_attach_req, fb_cookie);
  FIELD(xendispl_fb_attach_req, width);
  FIELD(xendispl_fb_attach_req, height);
  FIELD(xendispl_fb_attach_req, pixel_format);
  STRUCT(xendispl_fb_detach_req);
  FIELD(xendispl_fb_detach_req, fb_cookie);
  STRUCT(xendispl_set_config_req);
  FIELD(xendispl_set_config_req, fb_cookie);
  FIELD(xendispl_set_config_req, x);
  FIELD(xendispl_set_config_req, y);
  FIELD(xendispl_set_config_req, width);
  FIELD(xendispl_set_config_req, height);
  FIELD(xendispl_set_config_req, bpp);
  STRUCT(xendispl_page_flip_req);
  FIELD(xendispl_page_flip_req, fb_cookie);
  STRUCT(xendispl_get_edid_req);
  FIELD(xendispl_get_edid_req, buffer_sz);
  FIELD(xendispl_get_edid_req, gref_directory);
  STRUCT(xendispl_get_edid_resp);
  FIELD(xendispl_get_edid_resp, edid_sz);
  STRUCT(xendispl_pg_flip_evt);
  FIELD(xendispl_pg_flip_evt, fb_cookie);
  STRUCT(xendispl_page_directory);
  FIELD(xendispl_page_directory, gref_dir_next_page);
  FIELD(xendispl_page_directory, gref);
  STRUCT(xendispl_event_page);
  FIELD(xendispl_event_page, in_cons);
  FIELD(xendispl_event_page, in_prod);
  FIELD(xendispl_event_page, reserved);
  STRUCT(xen_displif_sring);
  FIELD(xen_displif_sring, req_prod);
  FIELD(xen_displif_sring, req_event);
  FIELD(xen_displif_sring, rsp_prod);
  FIELD(xen_displif_sring, rsp_event);
  FIELD(xen_displif_sring, ring);

  Napi::Object c = Napi::Object::New(env);
#define CONST(x) c.Set(#x, Napi::Number::New(env, static_cast<double>(x)))
  CONST(XENDISPL_PROTOCOL_VERSION_INT);
  CONST(XENDISPL_OP_DBUF_CREATE);
  CONST(XENDISPL_OP_DBUF_DESTROY);
  CONST(XENDISPL_OP_FB_ATTACH);
  CONST(XENDISPL_OP_FB_DETACH);
  CONST(XENDISPL_OP_SET_CONFIG);
  CONST(XENDISPL_OP_PG_FLIP);
  CONST(XENDISPL_OP_GET_EDID);
  CONST(XENDISPL_EVT_PG_FLIP);
  CONST(XENDISPL_DBUF_FLG_REQ_ALLOC);
  CONST(XENDISPL_EDID_BLOCK_SIZE);
  CONST(XENDISPL_EDID_BLOCK_COUNT);
  CONST(XENDISPL_EDID_MAX_SIZE);
  CONST(XENDISPL_IN_RING_OFFS);
  CONST(XENDISPL_IN_RING_SIZE);
  CONST(XENDISPL_IN_RING_LEN);
  CONST(XENDISPL_EVENT_PAGE_SIZE);
  c.Set("RING_SIZE", Napi::Number::New(env, static_cast<double>(__CONST_RING_SIZE(xen_displif, 4096))));
#undef CONST
  Napi::Object s = Napi::Object::New(env);
  s.Set("XENDISPL_PROTOCOL_VERSION", XENDISPL_PROTOCOL_VERSION);
  s.Set("XENDISPL_DRIVER_NAME", XENDISPL_DRIVER_NAME);
  s.Set("XENDISPL_LIST_SEPARATOR", XENDISPL_LIST_SEPARATOR);
  s.Set("XENDISPL_RESOLUTION_SEPARATOR", XENDISPL_RESOLUTION_SEPARATOR);
  s.Set("XENDISPL_FIELD_BE_VERSIONS", XENDISPL_FIELD_BE_VERSIONS);
  s.Set("XENDISPL_FIELD_FE_VERSION", XENDISPL_FIELD_FE_VERSION);
  s.Set("XENDISPL_FIELD_REQ_RING_REF", XENDISPL_FIELD_REQ_RING_REF);
  s.Set("XENDISPL_FIELD_REQ_CHANNEL", XENDISPL_FIELD_REQ_CHANNEL);
  s.Set("XENDISPL_FIELD_EVT_RING_REF", XENDISPL_FIELD_EVT_RING_REF);
  s.Set("XENDISPL_FIELD_EVT_CHANNEL", XENDISPL_FIELD_EVT_CHANNEL);
  s.Set("XENDISPL_FIELD_RESOLUTION", XENDISPL_FIELD_RESOLUTION);
  s.Set("XENDISPL_FIELD_BE_ALLOC", XENDISPL_FIELD_BE_ALLOC);
  s.Set("XENDISPL_FIELD_UNIQUE_ID", XENDISPL_FIELD_UNIQUE_ID);
  b.root.Set("constants", c);
  b.root.Set("strings", s);
  return b.root;
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("displifLayout", Napi::Function::New(env, DisplifLayout, "displifLayout"));
});

}  // namespace
}  // namespace vdispl
