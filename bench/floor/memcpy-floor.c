/*
 * The copy floor: CPU time of one memcpy of a frame, from the same kind of memory the copy path
 * reads (a shared file mapping, as a guest's mapped pages are in the simulator) into the same
 * kind it writes (an anonymous mapping, as a mapped dumb buffer is), with the same working set:
 * two guest frames (the file's first two frames) into two screen buffers, alternately, as a
 * double-buffered guest and our double-buffered scan-out make it. Nothing can copy the bytes for
 * less; the copy path's figure is a ratio to this one.
 *
 *   memcpy-floor FILE BYTES ITERATIONS
 *
 * Prints one JSON object: CPU nanoseconds per copy (this thread's clock) for each iteration
 * after four warm-up copies that fault the pages in.
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

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
  printf("{\"bytes\":%zu,\"cpuNs\":[", bytes);
  for (int i = 0; i < iterations; i++) {
    uint64_t t0 = thread_cpu_ns();
    memcpy(dst[i % 2], src[i % 2], bytes);
    /* The copy is the point: keep the compiler from dropping it as a dead store. */
    __asm__ volatile("" ::: "memory");
    uint64_t t1 = thread_cpu_ns();
    printf("%s%llu", i ? "," : "", (unsigned long long)(t1 - t0));
  }
  printf("],\"check\":%u}\n", dst[0][bytes / 2] ^ dst[1][bytes / 2]);
  return 0;
}
