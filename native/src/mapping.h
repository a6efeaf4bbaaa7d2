// A range mapped into this process, handed to JavaScript as { buffer, length, unmap() }. Every kind
// of mapping (a file, a gntdev or gntalloc range, a dumb buffer) goes through here so that unmap is
// always: detach the ArrayBuffer (no view can touch the range any more), munmap, then the kind's own
// release step (gntdev UNMAP_GRANT_REF, gntalloc DEALLOC_GREF) — once, whoever comes first, unmap()
// or the garbage collector.
#pragma once
#include <napi.h>
#include <cstddef>
#include <functional>

namespace vdispl {

using ReleaseFn = std::function<void()>;

Napi::Object WrapMapping(Napi::Env env, void* addr, size_t len, ReleaseFn afterUnmap = nullptr);

}  // namespace vdispl

namespace vdispl {
int64_t LiveMappings();
int64_t LiveMappedBytes();
}  // namespace vdispl
