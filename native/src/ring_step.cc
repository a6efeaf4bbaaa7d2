// io/ring.h's backend steps whole, one call each, for a ring whose slots JavaScript decodes: the
// per-request barriers and index accesses cost an N-API call apiece, eleven per flip, where a
// wake-up needs two. Mechanism only: the ring's geometry and indices come from TypeScript in a
// Uint32Array the two sides share, and what a violation means is decided there.
#include <atomic>
#include <cstdint>
#include "errors.h"
#include "registry.h"

namespace vdispl {
namespace {

// The words of the state array (src/displif/ring-step.ts names the same ones).
enum StateWord : uint32_t {
  kReqCons = 0,        // in/out: next request to copy
  kRspProdPvt = 1,     // in: responses written (the ring's room is counted from here)
  kRspProdPushed = 2,  // in/out: rsp_prod as last published
  kReqProdSeen = 3,    // out: the req_prod read last (what a violation is reported with)
  kMore = 4,           // out: 1 when requests are left on the ring (the copy stopped at `max`, or more came)
  kRingSize = 5,       // in: slots, a power of two
  kSlotSize = 6,       // in: bytes per slot
  kRingOffset = 7,     // in: where the slots start in the page
  kStateWords = 8,
};

// struct xxx_sring's header, the same for every io/ring.h ring.
constexpr uint32_t kReqProd = 0;
constexpr uint32_t kReqEvent = 4;
constexpr uint32_t kRspProd = 8;
constexpr uint32_t kRspEvent = 12;

uint32_t* ArgState(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(info.Env(), "expected Uint32Array for state");
  Napi::Uint32Array a = info[i].As<Napi::Uint32Array>();
  if (a.ElementLength() < kStateWords) throw Napi::RangeError::New(info.Env(), "ring state: too short");
  return a.Data();
}

uint32_t LoadAcquire(uint8_t* page, uint32_t off) {
  return __atomic_load_n(reinterpret_cast<uint32_t*>(page + off), __ATOMIC_ACQUIRE);
}

void StoreRelease(uint8_t* page, uint32_t off, uint32_t v) {
  __atomic_store_n(reinterpret_cast<uint32_t*>(page + off), v, __ATOMIC_RELEASE);
}

// ringConsume(page, state, out, max) -> slots copied, or -1 when req_prod is impossible.
// RING_COPY_REQUEST for every request published, up to `max`, into `out` (each byte read once,
// through a volatile pointer: the copy is what gets validated), then, when the ring is dry,
// RING_FINAL_CHECK_FOR_REQUESTS (req_event = req_cons + 1, full barrier, req_prod again). req_prod
// is checked each time it is read (RING_REQUEST_PROD_OVERFLOW, and never behind what was taken):
// a lying one copies nothing more and returns -1, with the value in state[kReqProdSeen].
Napi::Value RingConsume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* st = ArgState(info, 1);
  const uint32_t size = st[kRingSize];
  const uint32_t slot = st[kSlotSize];
  const uint32_t ringOff = st[kRingOffset];
  if (size == 0 || (size & (size - 1)) != 0 || slot == 0 || slot > 4096 || size > 4096)
    throw Napi::RangeError::New(env, "ringConsume: bad ring geometry");
  uint8_t* page = ArgBytes(info, 0, 0, static_cast<size_t>(ringOff) + size * slot, "ringConsume page");
  if (ringOff < kRspEvent + 4 || ringOff % 4) throw Napi::RangeError::New(env, "ringConsume: bad ring offset");
  uint32_t max = ArgU32(info, 3, "max");
  if (max > size) max = size;
  uint8_t* out = ArgBytes(info, 2, 0, static_cast<size_t>(max) * slot, "ringConsume out");
  uint32_t cons = st[kReqCons];
  const uint32_t pvt = st[kRspProdPvt];
  uint32_t copied = 0;
  for (;;) {
    uint32_t prod = LoadAcquire(page, kReqProd);
    st[kReqProdSeen] = prod;
    uint32_t ahead = prod - pvt;
    if (ahead > size || ahead < cons - pvt) {
      st[kReqCons] = cons;
      st[kMore] = 0;
      return Napi::Number::New(env, -1);
    }
    while (cons != prod && copied < max) {
      const volatile uint8_t* src = page + ringOff + (cons & (size - 1)) * slot;
      uint8_t* dst = out + copied * slot;
      for (uint32_t i = 0; i < slot; i++) dst[i] = src[i];
      cons++;
      copied++;
    }
    st[kReqCons] = cons;
    if (cons != prod) {
      st[kMore] = 1;
      return Napi::Number::New(env, copied);
    }
    StoreRelease(page, kReqEvent, cons + 1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint32_t again = LoadAcquire(page, kReqProd);
    if (again == cons) {
      st[kMore] = 0;
      return Napi::Number::New(env, copied);
    }
    // More came during the check. With copies in hand, give them first; the next call reads on
    // (and judges the new req_prod).
    if (copied > 0) {
      st[kReqProdSeen] = again;
      st[kMore] = 1;
      return Napi::Number::New(env, copied);
    }
  }
}

// ringPublish(page, state) -> notify. RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: rsp_prod = the
// responses written (state[kRspProdPvt]), full barrier, and whether the frontend's rsp_event lies
// within what this call published.
Napi::Value RingPublish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* st = ArgState(info, 1);
  uint8_t* page = ArgBytes(info, 0, 0, kRspEvent + 4, "ringPublish page");
  const uint32_t newProd = st[kRspProdPvt];
  const uint32_t oldProd = st[kRspProdPushed];
  StoreRelease(page, kRspProd, newProd);
  st[kRspProdPushed] = newProd;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint32_t rspEvent = LoadAcquire(page, kRspEvent);
  return Napi::Boolean::New(env, newProd - rspEvent < newProd - oldProd);
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("ringConsume", Napi::Function::New(env, RingConsume, "ringConsume"));
  exports.Set("ringPublish", Napi::Function::New(env, RingPublish, "ringPublish"));
});

}  // namespace
}  // namespace vdispl
