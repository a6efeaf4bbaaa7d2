#include "mapping.h"
#include <sys/mman.h>
#include <atomic>
#include <memory>

namespace vdispl {
namespace {

std::atomic<int64_t> g_live_mappings{0};
std::atomic<int64_t> g_live_mapped_bytes{0};

// Owned by the ArrayBuffer's finalizer; unmap() may run earlier and then the finalizer only frees.
struct MapState {
  void* addr;
  size_t len;
  bool mapped;
  ReleaseFn afterUnmap;
  napi_env env;
  // V8 counts an external ArrayBuffer's length as memory the heap keeps alive and collects
  // garbage when that total grows: a full mark-compact for every new mapping once a few hundred
  // MiB of guest buffers are mapped (5-15 ms each in a busy daemon), which frees nothing, since
  // the pages are not the heap's. The length is taken off that count while mapped.
  bool uncounted;
};

void ReleaseState(MapState* st) {
  if (!st->mapped) return;
  st->mapped = false;
  if (st->uncounted) {
    // V8 drops the length from its count when the buffer is detached or swept; give back what
    // was taken, so the two balance over the mapping's life. Both callers run on the JS thread
    // (unmap(), and the buffer's finalizer, which N-API defers to that thread), so env is usable.
    st->uncounted = false;
    int64_t total;
    napi_adjust_external_memory(st->env, static_cast<int64_t>(st->len), &total);
  }
  munmap(st->addr, st->len);
  g_live_mappings--;
  g_live_mapped_bytes -= static_cast<int64_t>(st->len);
  if (st->afterUnmap) {
    ReleaseFn fn = std::move(st->afterUnmap);
    st->afterUnmap = nullptr;
    fn();
  }
}

}  // namespace

int64_t LiveMappings() { return g_live_mappings.load(); }
int64_t LiveMappedBytes() { return g_live_mapped_bytes.load(); }

// Returns { buffer: ArrayBuffer, length, unmap(): void }. unmap() detaches the buffer first, so no
// JavaScript view can touch the range after it is gone; it is idempotent. The state is shared by
// the buffer's finalizer and the unmap function, so either may outlive the other safely.
Napi::Object WrapMapping(Napi::Env env, void* addr, size_t len, ReleaseFn afterUnmap) {
  auto st = std::make_shared<MapState>(MapState{addr, len, true, std::move(afterUnmap), env, false});
  g_live_mappings++;
  g_live_mapped_bytes += static_cast<int64_t>(len);
  using Holder = std::shared_ptr<MapState>;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, addr, len,
      [](Napi::Env, void*, Holder* h) {
        ReleaseState(h->get());
        delete h;
      },
      new Holder(st));
  int64_t total;
  st->uncounted = napi_adjust_external_memory(env, -static_cast<int64_t>(len), &total) == napi_ok;
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("buffer", ab);
  obj.Set("length", Napi::Number::New(env, static_cast<double>(len)));
  struct UnmapCtx {
    Holder state;
    Napi::Reference<Napi::ArrayBuffer> buffer;
  };
  auto* ctx = new UnmapCtx{st, Napi::Persistent(ab)};
  Napi::Function unmap = Napi::Function::New(
      env,
      [ctx](const Napi::CallbackInfo& info) {
        if (!ctx->buffer.IsEmpty()) {
          Napi::ArrayBuffer buf = ctx->buffer.Value();
          if (!buf.IsDetached()) buf.Detach();
          ctx->buffer.Reset();
        }
        ReleaseState(ctx->state.get());
        return info.Env().Undefined();
      },
      "unmap");
  unmap.AddFinalizer([](Napi::Env, UnmapCtx* c) { delete c; }, ctx);
  obj.Set("unmap", unmap);
  return obj;
}

}  // namespace vdispl
