// Lab tool (scenario a8): writes the framebuffer a CRTC scans out, as the card holds it, to a file.
//
//   scanout-dump CARD OUT   e.g. scanout-dump /dev/dri/card0 /mnt/share/out/scanout.raw
//
// The first CRTC with a framebuffer is taken (vkms has one); its framebuffer is looked up with
// GETFB2 (a handle is given to root even while another process is DRM master), mapped with
// MAP_DUMB and written row by row without the pitch's padding. One line on stdout says what was
// written: "fb ID WIDTHxHEIGHT FOURCC pitch PITCH". XRGB8888 only (what Weston's pixman output uses).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm/drm.h>
#include <drm/drm_fourcc.h>
#include <drm/drm_mode.h>

static int fail(const char* what) {
  fprintf(stderr, "scanout-dump: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: scanout-dump CARD OUT\n");
    return 2;
  }
  int card = open(argv[1], O_RDWR | O_CLOEXEC);
  if (card < 0) return fail(argv[1]);
  uint32_t crtcs[16];
  struct drm_mode_card_res res = {0};
  if (ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) return fail("GETRESOURCES");
  if (res.count_crtcs > 16) res.count_crtcs = 16;
  res.crtc_id_ptr = (uintptr_t)crtcs;
  res.count_fbs = res.count_connectors = res.count_encoders = 0;
  if (ioctl(card, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) return fail("GETRESOURCES");
  uint32_t fbId = 0;
  for (uint32_t i = 0; i < res.count_crtcs && fbId == 0; i++) {
    struct drm_mode_crtc c = {.crtc_id = crtcs[i]};
    if (ioctl(card, DRM_IOCTL_MODE_GETCRTC, &c) == 0) fbId = c.fb_id;
  }
  if (fbId == 0) {
    fprintf(stderr, "scanout-dump: no CRTC scans out a framebuffer\n");
    return 1;
  }
  struct drm_mode_fb_cmd2 fb = {.fb_id = fbId};
  if (ioctl(card, DRM_IOCTL_MODE_GETFB2, &fb) < 0) return fail("GETFB2");
  if (fb.handles[0] == 0) {
    fprintf(stderr, "scanout-dump: GETFB2 gave no handle (not root?)\n");
    return 1;
  }
  if (fb.pixel_format != DRM_FORMAT_XRGB8888 && fb.pixel_format != DRM_FORMAT_ARGB8888) {
    fprintf(stderr, "scanout-dump: format %.4s is not XRGB8888\n", (const char*)&fb.pixel_format);
    return 1;
  }
  struct drm_mode_map_dumb md = {.handle = fb.handles[0]};
  if (ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &md) < 0) return fail("MAP_DUMB");
  size_t size = (size_t)fb.pitches[0] * fb.height + fb.offsets[0];
  uint8_t* map = mmap(NULL, size, PROT_READ, MAP_SHARED, card, (off_t)md.offset);
  if (map == MAP_FAILED) return fail("mmap");
  FILE* out = fopen(argv[2], "wb");
  if (!out) return fail(argv[2]);
  for (uint32_t y = 0; y < fb.height; y++)
    if (fwrite(map + fb.offsets[0] + (size_t)y * fb.pitches[0], 4, fb.width, out) != fb.width) return fail("write");
  if (fclose(out) != 0) return fail("close");
  printf("fb %u %ux%u %.4s pitch %u\n", fbId, fb.width, fb.height, (const char*)&fb.pixel_format, fb.pitches[0]);
  munmap(map, size);
  struct drm_gem_close gc = {.handle = fb.handles[0]};
  ioctl(card, DRM_IOCTL_GEM_CLOSE, &gc);
  close(card);
  return 0;
}
