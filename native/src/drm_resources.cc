// What a DRM device has: CRTCs, encoders, connectors (with the kernel's names such as HDMI-A-1),
// planes and their formats, and every object's properties by name. Read once at start and after a
// hotplug; the KMS output chooses from it.
#include <cstring>
#include "drm.h"

namespace vdispl {

Napi::Object ModeToJs(Napi::Env env, const drmModeModeInfo& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("clock", m.clock);
  o.Set("hdisplay", m.hdisplay);
  o.Set("hsyncStart", m.hsync_start);
  o.Set("hsyncEnd", m.hsync_end);
  o.Set("htotal", m.htotal);
  o.Set("hskew", m.hskew);
  o.Set("vdisplay", m.vdisplay);
  o.Set("vsyncStart", m.vsync_start);
  o.Set("vsyncEnd", m.vsync_end);
  o.Set("vtotal", m.vtotal);
  o.Set("vscan", m.vscan);
  o.Set("vrefresh", m.vrefresh);
  o.Set("flags", m.flags);
  o.Set("type", m.type);
  o.Set("name", Napi::String::New(env, std::string(m.name, strnlen(m.name, sizeof m.name))));
  return o;
}

drmModeModeInfo ModeFromJs(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "expected a mode object");
  Napi::Object o = v.As<Napi::Object>();
  auto num = [&](const char* k, uint32_t max) -> uint32_t {
    Napi::Value x = o.Get(k);
    if (!x.IsNumber()) throw Napi::TypeError::New(env, std::string("mode.") + k + " must be a number");
    double d = x.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint64_t>(d)))
      throw Napi::RangeError::New(env, std::string("mode.") + k + " out of range");
    return static_cast<uint32_t>(d);
  };
  drmModeModeInfo m;
  std::memset(&m, 0, sizeof m);
  m.clock = num("clock", 0xffffffffu);
  m.hdisplay = static_cast<uint16_t>(num("hdisplay", 0xffff));
  m.hsync_start = static_cast<uint16_t>(num("hsyncStart", 0xffff));
  m.hsync_end = static_cast<uint16_t>(num("hsyncEnd", 0xffff));
  m.htotal = static_cast<uint16_t>(num("htotal", 0xffff));
  m.hskew = static_cast<uint16_t>(num("hskew", 0xffff));
  m.vdisplay = static_cast<uint16_t>(num("vdisplay", 0xffff));
  m.vsync_start = static_cast<uint16_t>(num("vsyncStart", 0xffff));
  m.vsync_end = static_cast<uint16_t>(num("vsyncEnd", 0xffff));
  m.vtotal = static_cast<uint16_t>(num("vtotal", 0xffff));
  m.vscan = static_cast<uint16_t>(num("vscan", 0xffff));
  m.vrefresh = num("vrefresh", 0xffffffffu);
  m.flags = num("flags", 0xffffffffu);
  m.type = num("type", 0xffffffffu);
  Napi::Value name = o.Get("name");
  if (name.IsString()) {
    std::string s = name.As<Napi::String>().Utf8Value();
    std::strncpy(m.name, s.c_str(), sizeof m.name - 1);
  }
  return m;
}

namespace {

template <typename T>
Napi::Array IdArray(Napi::Env env, const T* ids, int count) {
  Napi::Array a = Napi::Array::New(env, count > 0 ? count : 0);
  for (int i = 0; i < count; i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ids[i]));
  return a;
}

const char* ConnectionName(drmModeConnection c) {
  switch (c) {
    case DRM_MODE_CONNECTED:
      return "connected";
    case DRM_MODE_DISCONNECTED:
      return "disconnected";
    default:
      return "unknown";
  }
}

// Properties of one object: [{ id, name, value: bigint, flags, enums: [{name, value}], values: bigint[] }].
Napi::Array Properties(Napi::Env env, int fd, uint32_t objId, uint32_t objType) {
  drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(fd, objId, objType);
  if (props == nullptr) return Napi::Array::New(env, 0);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t i = 0; i < props->count_props; i++) {
    drmModePropertyPtr p = drmModeGetProperty(fd, props->props[i]);
    if (p == nullptr) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", p->prop_id);
    o.Set("name", Napi::String::New(env, std::string(p->name, strnlen(p->name, sizeof p->name))));
    o.Set("value", Napi::BigInt::New(env, static_cast<uint64_t>(props->prop_values[i])));
    o.Set("flags", p->flags);
    Napi::Array enums = Napi::Array::New(env, p->count_enums > 0 ? p->count_enums : 0);
    for (int e = 0; e < p->count_enums; e++) {
      Napi::Object en = Napi::Object::New(env);
      en.Set("name",
             Napi::String::New(env, std::string(p->enums[e].name, strnlen(p->enums[e].name, sizeof p->enums[e].name))));
      en.Set("value", Napi::BigInt::New(env, static_cast<uint64_t>(p->enums[e].value)));
      enums.Set(static_cast<uint32_t>(e), en);
    }
    o.Set("enums", enums);
    Napi::Array values = Napi::Array::New(env, p->count_values > 0 ? p->count_values : 0);
    for (int v = 0; v < p->count_values; v++)
      values.Set(static_cast<uint32_t>(v), Napi::BigInt::New(env, static_cast<uint64_t>(p->values[v])));
    o.Set("values", values);
    out.Set(n++, o);
    drmModeFreeProperty(p);
  }
  drmModeFreeObjectProperties(props);
  return out;
}

Napi::Object CrtcToJs(Napi::Env env, int fd, drmModeCrtcPtr c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", c->crtc_id);
  o.Set("bufferId", c->buffer_id);
  o.Set("x", c->x);
  o.Set("y", c->y);
  o.Set("width", c->width);
  o.Set("height", c->height);
  o.Set("mode", c->mode_valid ? Napi::Value(ModeToJs(env, c->mode)) : env.Null());
  o.Set("gammaSize", c->gamma_size);
  o.Set("props", Properties(env, fd, c->crtc_id, DRM_MODE_OBJECT_CRTC));
  return o;
}

}  // namespace

// resources() -> { minWidth, maxWidth, minHeight, maxHeight, crtcs, encoders, connectors, planes }.
// Probes connectors (drmModeGetConnector), which may take a while on real outputs: call it at
// start and on hotplug, not per frame. Planes include primary ones once UNIVERSAL_PLANES is set.
Napi::Value DrmDevice::Resources(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  drmModeResPtr res = drmModeGetResources(fd);
  if (res == nullptr) DrmThrow(env, "drmModeGetResources", errno ? errno : EOPNOTSUPP);
  Napi::Object out = Napi::Object::New(env);
  out.Set("minWidth", res->min_width);
  out.Set("maxWidth", res->max_width);
  out.Set("minHeight", res->min_height);
  out.Set("maxHeight", res->max_height);

  Napi::Array crtcs = Napi::Array::New(env);
  for (int i = 0; i < res->count_crtcs; i++) {
    drmModeCrtcPtr c = drmModeGetCrtc(fd, res->crtcs[i]);
    if (c == nullptr) continue;
    Napi::Object o = CrtcToJs(env, fd, c);
    o.Set("index", i);  // possible_crtcs bitmasks refer to this index
    crtcs.Set(crtcs.Length(), o);
    drmModeFreeCrtc(c);
  }
  out.Set("crtcs", crtcs);

  Napi::Array encoders = Napi::Array::New(env);
  for (int i = 0; i < res->count_encoders; i++) {
    drmModeEncoderPtr e = drmModeGetEncoder(fd, res->encoders[i]);
    if (e == nullptr) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", e->encoder_id);
    o.Set("type", e->encoder_type);
    o.Set("crtcId", e->crtc_id);
    o.Set("possibleCrtcs", e->possible_crtcs);
    o.Set("possibleClones", e->possible_clones);
    encoders.Set(encoders.Length(), o);
    drmModeFreeEncoder(e);
  }
  out.Set("encoders", encoders);

  Napi::Array connectors = Napi::Array::New(env);
  for (int i = 0; i < res->count_connectors; i++) {
    drmModeConnectorPtr c = drmModeGetConnector(fd, res->connectors[i]);
    if (c == nullptr) continue;
    Napi::Object o = Napi::Object::New(env);
    const char* typeName = drmModeGetConnectorTypeName(c->connector_type);
    std::string name = std::string(typeName ? typeName : "Unknown") + "-" + std::to_string(c->connector_type_id);
    o.Set("id", c->connector_id);
    o.Set("name", Napi::String::New(env, name));
    o.Set("type", c->connector_type);
    o.Set("typeId", c->connector_type_id);
    o.Set("connection", Napi::String::New(env, ConnectionName(c->connection)));
    o.Set("mmWidth", c->mmWidth);
    o.Set("mmHeight", c->mmHeight);
    o.Set("encoderId", c->encoder_id);
    o.Set("encoders", IdArray(env, c->encoders, c->count_encoders));
    Napi::Array modes = Napi::Array::New(env, c->count_modes > 0 ? c->count_modes : 0);
    for (int m = 0; m < c->count_modes; m++) modes.Set(static_cast<uint32_t>(m), ModeToJs(env, c->modes[m]));
    o.Set("modes", modes);
    o.Set("props", Properties(env, fd, c->connector_id, DRM_MODE_OBJECT_CONNECTOR));
    connectors.Set(connectors.Length(), o);
    drmModeFreeConnector(c);
  }
  out.Set("connectors", connectors);
  drmModeFreeResources(res);

  Napi::Array planes = Napi::Array::New(env);
  drmModePlaneResPtr pres = drmModeGetPlaneResources(fd);
  if (pres != nullptr) {
    for (uint32_t i = 0; i < pres->count_planes; i++) {
      drmModePlanePtr p = drmModeGetPlane(fd, pres->planes[i]);
      if (p == nullptr) continue;
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", p->plane_id);
      o.Set("crtcId", p->crtc_id);
      o.Set("fbId", p->fb_id);
      o.Set("possibleCrtcs", p->possible_crtcs);
      o.Set("formats", IdArray(env, p->formats, static_cast<int>(p->count_formats)));
      o.Set("props", Properties(env, fd, p->plane_id, DRM_MODE_OBJECT_PLANE));
      planes.Set(planes.Length(), o);
      drmModeFreePlane(p);
    }
    drmModeFreePlaneResources(pres);
  }
  out.Set("planes", planes);
  return out;
}

// getCrtc(id) -> the CRTC's current state (to save it before taking it over, and restore it).
Napi::Value DrmDevice::GetCrtc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t id = ArgU32(info, 0, "crtcId");
  drmModeCrtcPtr c = drmModeGetCrtc(fd, id);
  if (c == nullptr) DrmThrow(env, "drmModeGetCrtc", errno ? errno : ENOENT);
  Napi::Object o = CrtcToJs(env, fd, c);
  drmModeFreeCrtc(c);
  return o;
}

// objectProperties(objId, objType) -> properties (objType: DRM_MODE_OBJECT_*).
Napi::Value DrmDevice::ObjectProperties(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Properties(env, Fd(env), ArgU32(info, 0, "objId"), ArgU32(info, 1, "objType"));
}

}  // namespace vdispl
