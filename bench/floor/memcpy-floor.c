/*
 * The copy floor: CPU time of one memcpy of a frame, from the same kind of memory the copy path
 * reads (a shared file mapping, as a guest's mapped pages are in the simulator) into the same
 * kind it writes (an anonymous mapping, as a mapped dumb buffer is), with the same working set:
 * two guest frames (the file's first two frames) into two screen buffers, alternately, as a
 * double-buffered guest and our double-buffered scan-out make it. Two ways: glibc's memcpy, and a
 * loop of streaming (non-temporal) stores, which skips reading the destination's lines into the
 * cache (on some machines a large memcpy is dearer than that: 0.55-0.8x of it here). The least of
 * the two is what a copy of the bytes costs at the least; the copy path's figure is a ratio to it.
 *
 *   memcpy-floor FILE BYTES ITERATIONS
 *
 * Prints one JSON object: CPU nanoseconds per copy (this thread's clock) for each iteration
 * after four warm-up copies that fault the pages in, memcpy's in cpuNs and the streaming loop's
 * in streamNs (the two measured alternately, copy by copy).
 *
 * Build: cc -O2 -o memcpy-floor memcpy-floor.c (the benchmark does it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
/* 32-byte streaming stores (AVX2), the destination aligned first; BYTES is a multiple of 4096. */
__attribute__((target("avx2"))) static void stream_avx2(uint8_t* d, const uint8_t* s, size_t n) {
  for (size_t i = 0; i < n; i += 128) {
    __m256i a = _mm256_loadu_si256((const __m256i*)(s + i));
    __m256i b = _mm256_loadu_si256((const __m256i*)(s + i + 32));
    __m256i c = _mm256_loadu_si256((const __m256i*)(s + i + 64));
    __m256i e = _mm256_loadu_si256((const __m256i*)(s + i + 96));
    _mm256_stream_si256((__m256i*)(d + i), a);
    _mm256_stream_si256((__m256i*)(d + i + 32), b);
    _mm256_stream_si256((__m256i*)(d + i + 64), c);
    _mm256_stream_si256((__m256i*)(d + i + 96), e);
  }
  _mm_sfence();
}

static void stream_sse2(uint8_t* d, const uint8_t* s, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    __m128i a = _mm_loadu_si128((const __m128i*)(s + i));
    __m128i b = _mm_loadu_si128((const __m128i*)(s + i + 16));
    __m128i c = _mm_loadu_si128((const __m128i*)(s + i + 32));
    __m128i e = _mm_loadu_si128((const __m128i*)(s + i + 48));
    _mm_stream_si128((__m128i*)(d + i), a);
    _mm_stream_si128((__m128i*)(d + i + 16), b);
    _mm_stream_si128((__m128i*)(d + i + 32), c);
    _mm_stream_si128((__m128i*)(d + i + 48), e);
  }
  _mm_sfence();
}

static void stream_copy(uint8_t* d, const uint8_t* s, size_t n) {
  if (__builtin_cpu_supports("avx2"))
    stream_avx2(d, s, n);
  else
    stream_sse2(d, s, n);
}
#else
/* Elsewhere the floor is memcpy alone (vdispld's copy is memcpy there too). */
static void stream_copy(uint8_t* d, const uint8_t* s, size_t n) { memcpy(d, s, n); }
#endif

static uint64_t timed(void (*copy)(uint8_t*, const uint8_t*, size_t), uint8_t* d, const uint8_t* s, size_t n) {
  uint64_t t0 = thread_cpu_ns();
  copy(d, s, n);
  /* The copy is the point: keep the compiler from dropping it as a dead store. */
  __asm__ volatile("" ::: "memory");
  return thread_cpu_ns() - t0;
}

static void libc_copy(uint8_t* d, const uint8_t* s, size_t n) { memcpy(d, s, n); }

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: memcpy-floor FILE BYTES ITERATIONS\n");
    return 2;
  }
  size_t bytes = (size_t)strtoull(argv[2], NULL, 10);
  int iterations = atoi(argv[3]);
  if (bytes == 0 || bytes % 4096 || iterations <= 0 || iterations > 100000) {
    fprintf(stderr, "memcpy-floor: bad arguments\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror("memcpy-floor: open");
    return 1;
  }
  const uint8_t* frames = mmap(NULL, 2 * bytes, PROT_READ, MAP_SHARED, fd, 0);
  uint8_t* screens = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (frames == MAP_FAILED || screens == MAP_FAILED) {
    perror("memcpy-floor: mmap");
    return 1;
  }
  const uint8_t* src[2] = {frames, frames + bytes};
  uint8_t* dst[2] = {screens, screens + bytes};
  for (int i = 0; i < 4; i++) {
    memcpy(dst[i % 2], src[i % 2], bytes);
    __asm__ volatile("" ::: "memory");
  }
  uint64_t* libc_ns = calloc((size_t)iterations, sizeof(uint64_t));
  uint64_t* stream_ns = calloc((size_t)iterations, sizeof(uint64_t));
  if (!libc_ns || !stream_ns) return 1;
  for (int i = 0; i < iterations; i++) {
    libc_ns[i] = timed(libc_copy, dst[i % 2], src[i % 2], bytes);
    stream_ns[i] = timed(stream_copy, dst[i % 2], src[i % 2], bytes);
  }
  printf("{\"bytes\":%zu,\"cpuNs\":[", bytes);
  for (int i = 0; i < iterations; i++) printf("%s%llu", i ? "," : "", (unsigned long long)libc_ns[i]);
  printf("],\"streamNs\":[");
  for (int i = 0; i < iterations; i++) printf("%s%llu", i ? "," : "", (unsigned long long)stream_ns[i]);
  printf("],\"check\":%u}\n", dst[0][bytes / 2] ^ dst[1][bytes / 2]);
  return 0;
}
