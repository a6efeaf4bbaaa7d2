// The event page's producer step whole, one call per flip event: read in_cons, and where the
// slot at in_prod is plainly free (fewer than 63 outstanding and no index wrap between in_cons and
// in_prod), write the PG_FLIP event into it and publish in_prod. Everything else (a full page, an
// impossible in_cons, the wrap where idx % 63 jumps back, queued events) is left to TypeScript
// (src/displif/event-page.ts), which reads in_cons again and decides: this step writes only what
// that code would write for the same in_cons. It took two addon calls per event (load32Acquire,
// store32Release) around a slot written from JavaScript.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <xen/io/displif.h>
#include "errors.h"
#include "registry.h"

namespace vdispl {
namespace {

constexpr uint32_t kInCons = offsetof(struct xendispl_event_page, in_cons);
constexpr uint32_t kInProd = offsetof(struct xendispl_event_page, in_prod);
constexpr uint32_t kRingLen = XENDISPL_IN_RING_LEN;
constexpr uint32_t kSlotSize = sizeof(struct xendispl_evt);
constexpr uint32_t kPageSize = XENDISPL_EVENT_PAGE_SIZE;

// eventPutPgFlip(page, inProd, id, cookie) -> true when written and published, false when the
// caller must look at the page itself (nothing was written then).
Napi::Value EventPutPgFlip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* page = ArgBytes(info, 0, 0, kPageSize, "eventPutPgFlip page");
  uint32_t inProd = ArgU32(info, 1, "inProd");
  uint32_t id = ArgU32(info, 2, "id");
  if (id > 0xffff) throw Napi::RangeError::New(env, "eventPutPgFlip: id must be a uint16");
  if (info.Length() < 4 || !info[3].IsBigInt()) throw Napi::TypeError::New(env, "expected bigint for cookie");
  bool lossless = false;
  uint64_t cookie = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "eventPutPgFlip: cookie must be a uint64");
  uint32_t inCons = __atomic_load_n(reinterpret_cast<uint32_t*>(page + kInCons), __ATOMIC_ACQUIRE);
  uint32_t used = inProd - inCons;
  if (used >= kRingLen || (used != 0 && inCons > inProd)) return Napi::Boolean::New(env, false);
  struct xendispl_evt evt;
  std::memset(&evt, 0, sizeof evt);
  evt.id = static_cast<uint16_t>(id);
  evt.type = XENDISPL_EVT_PG_FLIP;
  evt.op.pg_flip.fb_cookie = cookie;
  std::memcpy(page + XENDISPL_IN_RING_OFFS + (inProd % kRingLen) * kSlotSize, &evt, sizeof evt);
  __atomic_store_n(reinterpret_cast<uint32_t*>(page + kInProd), inProd + 1, __ATOMIC_RELEASE);
  return Napi::Boolean::New(env, true);
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("eventPutPgFlip", Napi::Function::New(env, EventPutPgFlip, "eventPutPgFlip"));
});

}  // namespace
}  // namespace vdispl
