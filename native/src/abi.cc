// The kernel ABI as the compiler sees it in the installed headers: ioctl numbers, the header
// sizes of the variable-length ioctls, and the DRM constants the TypeScript side uses. Tests hold
// the TypeScript constants (src/native/abi.ts) against this, so a wrong number cannot hide.
#include <cstddef>
#include "xen_uapi.h"
#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>
#include "registry.h"

namespace vdispl {
namespace {

Napi::Value KernelAbi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object ioctls = Napi::Object::New(env);
#define IOC(x) ioctls.Set(#x, Napi::Number::New(env, static_cast<double>(x)))
  IOC(IOCTL_GNTDEV_MAP_GRANT_REF);
  IOC(IOCTL_GNTDEV_UNMAP_GRANT_REF);
  IOC(IOCTL_GNTDEV_SET_UNMAP_NOTIFY);
  IOC(IOCTL_GNTDEV_GRANT_COPY);
  IOC(IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS);
  IOC(IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED);
  IOC(IOCTL_GNTDEV_DMABUF_IMP_TO_REFS);
  IOC(IOCTL_GNTDEV_DMABUF_IMP_RELEASE);
  IOC(IOCTL_GNTALLOC_ALLOC_GREF);
  IOC(IOCTL_GNTALLOC_DEALLOC_GREF);
  IOC(IOCTL_EVTCHN_BIND_INTERDOMAIN);
  IOC(IOCTL_EVTCHN_UNBIND);
  IOC(IOCTL_EVTCHN_NOTIFY);
  IOC(IOCTL_EVTCHN_RESET);
  IOC(IOCTL_EVTCHN_RESTRICT_DOMID);
  IOC(DRM_IOCTL_MODE_CREATE_DUMB);
  IOC(DRM_IOCTL_MODE_MAP_DUMB);
  IOC(DRM_IOCTL_MODE_DESTROY_DUMB);
  IOC(DRM_IOCTL_PRIME_FD_TO_HANDLE);
  IOC(DRM_IOCTL_PRIME_HANDLE_TO_FD);
  IOC(DRM_IOCTL_GEM_CLOSE);
  IOC(DRM_IOCTL_MODE_ADDFB2);
  IOC(DRM_IOCTL_MODE_RMFB);
  IOC(DRM_IOCTL_MODE_SETCRTC);
  IOC(DRM_IOCTL_MODE_PAGE_FLIP);
  IOC(DRM_IOCTL_MODE_ATOMIC);
  IOC(DRM_IOCTL_SET_MASTER);
  IOC(DRM_IOCTL_DROP_MASTER);
#undef IOC

  Napi::Object layouts = Napi::Object::New(env);
  auto layout = [&](const char* name, size_t size, std::initializer_list<std::pair<const char*, size_t>> fields) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("size", Napi::Number::New(env, static_cast<double>(size)));
    Napi::Object f = Napi::Object::New(env);
    for (auto& kv : fields) f.Set(kv.first, Napi::Number::New(env, static_cast<double>(kv.second)));
    s.Set("fields", f);
    layouts.Set(name, s);
  };
#define F(t, f) {#f, offsetof(struct t, f)}
  layout("ioctl_gntdev_map_grant_ref", sizeof(struct ioctl_gntdev_map_grant_ref),
         {F(ioctl_gntdev_map_grant_ref, count), F(ioctl_gntdev_map_grant_ref, index),
          F(ioctl_gntdev_map_grant_ref, refs)});
  layout("ioctl_gntdev_grant_ref", sizeof(struct ioctl_gntdev_grant_ref),
         {F(ioctl_gntdev_grant_ref, domid), F(ioctl_gntdev_grant_ref, ref)});
  layout("ioctl_gntdev_unmap_grant_ref", sizeof(struct ioctl_gntdev_unmap_grant_ref),
         {F(ioctl_gntdev_unmap_grant_ref, index), F(ioctl_gntdev_unmap_grant_ref, count)});
  layout("ioctl_gntdev_dmabuf_exp_from_refs", sizeof(struct ioctl_gntdev_dmabuf_exp_from_refs),
         {F(ioctl_gntdev_dmabuf_exp_from_refs, flags), F(ioctl_gntdev_dmabuf_exp_from_refs, count),
          F(ioctl_gntdev_dmabuf_exp_from_refs, fd), F(ioctl_gntdev_dmabuf_exp_from_refs, domid),
          F(ioctl_gntdev_dmabuf_exp_from_refs, refs)});
  layout("ioctl_gntdev_dmabuf_exp_wait_released", sizeof(struct ioctl_gntdev_dmabuf_exp_wait_released),
         {F(ioctl_gntdev_dmabuf_exp_wait_released, fd), F(ioctl_gntdev_dmabuf_exp_wait_released, wait_to_ms)});
  layout("ioctl_gntdev_dmabuf_imp_to_refs", sizeof(struct ioctl_gntdev_dmabuf_imp_to_refs),
         {F(ioctl_gntdev_dmabuf_imp_to_refs, fd), F(ioctl_gntdev_dmabuf_imp_to_refs, count),
          F(ioctl_gntdev_dmabuf_imp_to_refs, domid), F(ioctl_gntdev_dmabuf_imp_to_refs, reserved),
          F(ioctl_gntdev_dmabuf_imp_to_refs, refs)});
  layout("ioctl_gntdev_dmabuf_imp_release", sizeof(struct ioctl_gntdev_dmabuf_imp_release),
         {F(ioctl_gntdev_dmabuf_imp_release, fd), F(ioctl_gntdev_dmabuf_imp_release, reserved)});
  layout("ioctl_gntalloc_alloc_gref", sizeof(struct ioctl_gntalloc_alloc_gref),
         {F(ioctl_gntalloc_alloc_gref, domid), F(ioctl_gntalloc_alloc_gref, flags), F(ioctl_gntalloc_alloc_gref, count),
          F(ioctl_gntalloc_alloc_gref, index), F(ioctl_gntalloc_alloc_gref, gref_ids)});
  layout("ioctl_gntalloc_dealloc_gref", sizeof(struct ioctl_gntalloc_dealloc_gref),
         {F(ioctl_gntalloc_dealloc_gref, index), F(ioctl_gntalloc_dealloc_gref, count)});
  layout("ioctl_evtchn_bind_interdomain", sizeof(struct ioctl_evtchn_bind_interdomain),
         {F(ioctl_evtchn_bind_interdomain, remote_domain), F(ioctl_evtchn_bind_interdomain, remote_port)});
  layout("drm_mode_modeinfo", sizeof(struct drm_mode_modeinfo),
         {F(drm_mode_modeinfo, clock), F(drm_mode_modeinfo, hdisplay), F(drm_mode_modeinfo, vdisplay),
          F(drm_mode_modeinfo, vrefresh), F(drm_mode_modeinfo, flags), F(drm_mode_modeinfo, type),
          F(drm_mode_modeinfo, name)});
  layout("drm_mode_fb_cmd2", sizeof(struct drm_mode_fb_cmd2),
         {F(drm_mode_fb_cmd2, fb_id), F(drm_mode_fb_cmd2, width), F(drm_mode_fb_cmd2, pixel_format),
          F(drm_mode_fb_cmd2, handles), F(drm_mode_fb_cmd2, pitches), F(drm_mode_fb_cmd2, offsets),
          F(drm_mode_fb_cmd2, modifier)});
#undef F

  Napi::Object c = Napi::Object::New(env);
#define C(x) c.Set(#x, Napi::Number::New(env, static_cast<double>(x)))
  C(GNTDEV_DMA_FLAG_WC);
  C(GNTDEV_DMA_FLAG_COHERENT);
  C(GNTALLOC_FLAG_WRITABLE);
  C(DRM_CAP_DUMB_BUFFER);
  C(DRM_CAP_PRIME);
  C(DRM_PRIME_CAP_IMPORT);
  C(DRM_PRIME_CAP_EXPORT);
  C(DRM_CAP_TIMESTAMP_MONOTONIC);
  C(DRM_CAP_ADDFB2_MODIFIERS);
  C(DRM_CAP_CRTC_IN_VBLANK_EVENT);
  C(DRM_CAP_DUMB_PREFERRED_DEPTH);
  C(DRM_CLIENT_CAP_UNIVERSAL_PLANES);
  C(DRM_CLIENT_CAP_ATOMIC);
  C(DRM_MODE_PAGE_FLIP_EVENT);
  C(DRM_MODE_ATOMIC_TEST_ONLY);
  C(DRM_MODE_ATOMIC_NONBLOCK);
  C(DRM_MODE_ATOMIC_ALLOW_MODESET);
  C(DRM_MODE_OBJECT_CRTC);
  C(DRM_MODE_OBJECT_CONNECTOR);
  C(DRM_MODE_OBJECT_PLANE);
  C(DRM_MODE_TYPE_PREFERRED);
  C(DRM_MODE_TYPE_DRIVER);
  C(DRM_FORMAT_XRGB8888);
  C(DRM_FORMAT_ARGB8888);
  C(DRM_FORMAT_RGB565);
  C(DRM_FORMAT_RGB888);
  C(DRM_FORMAT_XRGB4444);
  C(DRM_FORMAT_ARGB4444);
  C(DRM_FORMAT_XRGB1555);
  C(DRM_FORMAT_ARGB1555);
  C(DRM_FORMAT_YUYV);
#undef C
  Napi::Object out = Napi::Object::New(env);
  out.Set("ioctls", ioctls);
  out.Set("layouts", layouts);
  out.Set("constants", c);
  return out;
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("kernelAbi", Napi::Function::New(env, KernelAbi, "kernelAbi"));
});

}  // namespace
}  // namespace vdispl
