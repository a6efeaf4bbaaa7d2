// Each native source file registers its exports here from a static initializer, so adding a
// concern to the addon means adding a file, not editing a central list.
#pragma once
#include <napi.h>
#include <functional>
#include <vector>

namespace vdispl {

using InitFn = std::function<void(Napi::Env, Napi::Object)>;

inline std::vector<InitFn>& initializers() {
  static std::vector<InitFn> list;
  return list;
}

struct Register {
  explicit Register(InitFn fn) { initializers().push_back(std::move(fn)); }
};

}  // namespace vdispl
