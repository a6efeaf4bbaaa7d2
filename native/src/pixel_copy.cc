// Copying pixel rows into a scan-out buffer (the KMS copy path, composition): one call for every
// row of a region, whatever the two pitches. Frames are written with streaming (non-temporal)
// stores: nothing reads a scan-out buffer back on the CPU (the display engine does, by DMA), so
// pulling its lines into the cache only to overwrite them, and evicting the daemon's own data for
// them, is wasted; on write-combined dumb-buffer mappings streaming stores are the way to write
// anyway. Measured on a 1080p XRGB8888 frame (docs/PERFORMANCE.md, "The copy path"): 0.55-0.8x
// the CPU of glibc's memcpy of the same bytes. Small copies (a cursor, one row into a scratch
// buffer the caller reads back at once) use memcpy: below kStreamMin the cache is the right place.
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "errors.h"
#include "registry.h"

namespace vdispl {
namespace {

constexpr size_t kStreamMin = 256 * 1024;

#if defined(__x86_64__)
// One row with 32-byte streaming stores (AVX2); the unaligned head and the tail with memcpy.
__attribute__((target("avx2"))) void StreamRowAvx2(uint8_t* d, const uint8_t* s, size_t n) {
  size_t head = (32 - (reinterpret_cast<uintptr_t>(d) & 31)) & 31;
  if (head > n) head = n;
  std::memcpy(d, s, head);
  size_t i = head;
  for (; i + 128 <= n; i += 128) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 32));
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 64));
    __m256i e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + 96), e);
  }
  for (; i + 32 <= n; i += 32)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
  std::memcpy(d + i, s + i, n - i);
}

// The same with 16-byte stores (SSE2, every x86-64).
void StreamRowSse2(uint8_t* d, const uint8_t* s, size_t n) {
  size_t head = (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15;
  if (head > n) head = n;
  std::memcpy(d, s, head);
  size_t i = head;
  for (; i + 64 <= n; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
  }
  for (; i + 16 <= n; i += 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
  std::memcpy(d + i, s + i, n - i);
}

using RowFn = void (*)(uint8_t*, const uint8_t*, size_t);

RowFn StreamRow() {
  static const RowFn fn = __builtin_cpu_supports("avx2") ? StreamRowAvx2 : StreamRowSse2;
  return fn;
}
#endif

// Rows end to end on both sides are one run of bytes: one call, not one per row.
void CopyRows(uint8_t* d, size_t dPitch, const uint8_t* s, size_t sPitch, size_t rowBytes, size_t rows) {
  bool packed = rowBytes == dPitch && rowBytes == sPitch;
  size_t runs = packed ? 1 : rows;
  size_t run = packed ? rowBytes * rows : rowBytes;
#if defined(__x86_64__)
  if (rowBytes * rows >= kStreamMin) {
    RowFn fn = StreamRow();
    for (size_t r = 0; r < runs; r++) fn(d + r * dPitch, s + r * sPitch, run);
    // The streamed lines are visible to every other agent (the display engine after the flip
    // ioctl, another thread) before anything this thread does next.
    _mm_sfence();
    return;
  }
#endif
  for (size_t r = 0; r < runs; r++) std::memcpy(d + r * dPitch, s + r * sPitch, run);
}

// copyRows(dst, dstOffset, dstPitch, src, srcOffset, srcPitch, rowBytes, rows): `rows` rows of
// `rowBytes` each, row r from src[srcOffset + r*srcPitch] to dst[dstOffset + r*dstPitch]. Every
// byte read or written lies inside its view (RangeError otherwise); rows do not overlap on either
// side, and the two regions may not overlap each other.
Napi::Value CopyRowsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t dOff = ArgU32(info, 1, "dstOffset");
  uint32_t dPitch = ArgU32(info, 2, "dstPitch");
  uint32_t sOff = ArgU32(info, 4, "srcOffset");
  uint32_t sPitch = ArgU32(info, 5, "srcPitch");
  uint32_t rowBytes = ArgU32(info, 6, "rowBytes");
  uint32_t rows = ArgU32(info, 7, "rows");
  if (rows == 0 || rowBytes == 0) {
    ArgBytes(info, 0, 0, 0, "copyRows dst");
    ArgBytes(info, 3, 0, 0, "copyRows src");
    return env.Undefined();
  }
  if (rows > 1 && (rowBytes > dPitch || rowBytes > sPitch))
    throw Napi::RangeError::New(env, "copyRows: a row is longer than its pitch");
  // 64-bit extents: uint32 offsets and pitches times rows cannot overflow them.
  uint64_t dLen = static_cast<uint64_t>(dPitch) * (rows - 1) + rowBytes;
  uint64_t sLen = static_cast<uint64_t>(sPitch) * (rows - 1) + rowBytes;
  if (dLen > SIZE_MAX || sLen > SIZE_MAX) throw Napi::RangeError::New(env, "copyRows: region too large");
  uint8_t* d = ArgBytes(info, 0, dOff, static_cast<size_t>(dLen), "copyRows dst");
  const uint8_t* s = ArgBytes(info, 3, sOff, static_cast<size_t>(sLen), "copyRows src");
  if (d < s + sLen && s < d + dLen) throw Napi::RangeError::New(env, "copyRows: source and destination overlap");
  CopyRows(d, dPitch, s, sPitch, rowBytes, rows);
  return env.Undefined();
}

Register reg([](Napi::Env env, Napi::Object exports) {
  exports.Set("copyRows", Napi::Function::New(env, CopyRowsJs, "copyRows"));
});

}  // namespace
}  // namespace vdispl
