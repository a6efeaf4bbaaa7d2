// The Wayland client as a module of its own: it links libwayland-client, which a headless or KMS
// dom0 does not have, so the main addon must not depend on it. Loaded on demand by src/native/wayland.ts.
#include <napi.h>
#include "../registry.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& fn : vdispl::initializers()) fn(env, exports);
  return exports;
}

NODE_API_MODULE(vdispl_wayland, Init)
