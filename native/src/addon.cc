// The vdispld native addon: thin mechanism over the kernel interfaces. Policy lives in TypeScript.
#include <napi.h>
#include "registry.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& fn : vdispl::initializers()) fn(env, exports);
  return exports;
}

NODE_API_MODULE(vdispl_native, Init)
