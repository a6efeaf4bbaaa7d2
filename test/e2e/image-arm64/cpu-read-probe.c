/*
 * cpu-read-probe: can a program read a guest-grant dma-buf on the CPU? That is what a compositor
 * with a software renderer must do with a linux-dmabuf buffer: Mesa's kms_swrast (llvmpipe through
 * gbm on a KMS-only card such as vkms) imports the fd with PRIME and maps the handle with
 * MAP_DUMB + mmap of the card; pixman-based renderers mmap the dma-buf itself.
 *
 * In dom0 of the Arm64 lab, with nothing else on the card: a vkms dumb buffer with a known pattern
 * is granted to dom0 itself (IOCTL_GNTDEV_DMABUF_IMP_TO_REFS) and those refs are exported again
 * (IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS), which gives a dma-buf of gntdev's exporter, the kind the daemon
 * makes of a guest's buffer. Then both CPU paths are tried on it. One line per step, with the
 * step's wall time (the same kernel calls the daemon makes for a guest's buffer):
 *   probe: <step>: ok <ms> ms [detail] | probe: <step>: errno <n> <text>
 * Usage: cpu-read-probe [WIDTH HEIGHT] (default 1024 768, XRGB8888).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>
/* the uapi header uses the hypervisor's names for these two types */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntdev.h>

static uint32_t W = 1024, H = 768;
static double t0;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reports a step that started at t0 and restarts the clock for the next one. */
static int step(const char *what, int r) {
  double t = now_ms();
  if (r < 0)
    printf("probe: %s: errno %d %s\n", what, errno, strerror(errno));
  else
    printf("probe: %s: ok %.1f ms\n", what, t - t0);
  fflush(stdout);
  t0 = now_ms();
  return r;
}

/* Maps `size` bytes of `fd` at `offset` and compares them with the pattern. */
static void read_back(const char *what, int fd, uint64_t offset, size_t size) {
  uint32_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)offset);
  if (p == MAP_FAILED) {
    step(what, -1);
    return;
  }
  size_t bad = 0;
  for (size_t i = 0; i < (size_t)W * H; i++) bad += p[i] != (0xff000000u | (uint32_t)i);
  printf("probe: %s: ok %.1f ms, %zu of %u pixels differ from the pattern\n", what, now_ms() - t0, bad, W * H);
  t0 = now_ms();
  munmap(p, size);
}

int main(int argc, char **argv) {
  if (argc == 3) {
    W = (uint32_t)strtoul(argv[1], NULL, 0);
    H = (uint32_t)strtoul(argv[2], NULL, 0);
  }
  t0 = now_ms();
  int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
  int gnt = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
  if (step("open card0 and gntdev", card < 0 || gnt < 0 ? -1 : 0) < 0) return 1;

  struct drm_mode_create_dumb cd = {.width = W, .height = H, .bpp = 32};
  if (step("vkms CREATE_DUMB", ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &cd)) < 0) return 1;
  struct drm_mode_map_dumb md = {.handle = cd.handle};
  if (step("vkms MAP_DUMB", ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &md)) < 0) return 1;
  uint32_t *px = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, card, (off_t)md.offset);
  if (step("mmap of the dumb buffer", px == MAP_FAILED ? -1 : 0) < 0) return 1;
  for (uint32_t i = 0; i < W * H; i++) px[i] = 0xff000000u | i;
  t0 = now_ms();

  struct drm_prime_handle ph = {.handle = cd.handle, .flags = DRM_CLOEXEC};
  if (step("vkms PRIME_HANDLE_TO_FD", ioctl(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph)) < 0) return 1;
  uint32_t pages = (uint32_t)((cd.size + 4095) / 4096);

  struct ioctl_gntdev_dmabuf_imp_to_refs *imp = calloc(1, sizeof(*imp) + pages * sizeof(uint32_t));
  imp->fd = (uint32_t)ph.fd;
  imp->count = pages;
  imp->domid = 0;
  if (step("gntdev IMP_TO_REFS (to dom0)", ioctl(gnt, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, imp)) < 0) return 1;

  struct ioctl_gntdev_dmabuf_exp_from_refs *exp = calloc(1, sizeof(*exp) + pages * sizeof(uint32_t));
  exp->count = pages;
  exp->domid = 0;
  memcpy(exp->refs, imp->refs, pages * sizeof(uint32_t));
  if (step("gntdev EXP_FROM_REFS", ioctl(gnt, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, exp)) < 0) return 1;
  int buf = (int)exp->fd;
  printf("probe: exported dma-buf size %lld (lseek)\n", (long long)lseek(buf, 0, SEEK_END));

  /* a pixman-style reader: mmap of the dma-buf itself */
  read_back("mmap of the exported dma-buf", buf, 0, cd.size);

  /* kms_swrast's reader: PRIME import into the card, MAP_DUMB, mmap of the card */
  struct drm_prime_handle in = {.fd = buf};
  if (step("vkms PRIME_FD_TO_HANDLE of the export", ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &in)) < 0) return 1;
  struct drm_mode_map_dumb mi = {.handle = in.handle};
  if (step("vkms MAP_DUMB of the imported handle", ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &mi)) == 0)
    read_back("mmap of the card at the imported handle", card, mi.offset, cd.size);

  /* the teardown of an export and its import, as the daemon does it when a guest goes */
  t0 = now_ms();
  struct drm_gem_close gc = {.handle = in.handle};
  step("vkms GEM_CLOSE of the imported handle", ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc));
  close(buf);
  struct ioctl_gntdev_dmabuf_exp_wait_released wr = {.fd = (uint32_t)buf, .wait_to_ms = 5000};
  int r = ioctl(gnt, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, &wr);
  step("close of the export and WAIT_RELEASED (ENOENT is released)", r < 0 && errno == ENOENT ? 0 : r);
  struct ioctl_gntdev_dmabuf_imp_release ir = {.fd = (uint32_t)ph.fd};
  step("gntdev IMP_RELEASE", ioctl(gnt, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &ir));
  return 0;
}
