// The fixes for the failures operators actually meet, keyed by device, call and errno. Everything
// not listed here gets the plain "device: call: strerror (ECODE)" line, which is still specific.
#include <string>
#include "errors.h"

namespace vdispl {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

const char* XenOpenHint(const std::string& kind, int err) {
  if (err == ENOENT || err == ENODEV || err == ENXIO) {
    if (kind == "xenbus")
      return "not running in a Xen domain, or xenfs is not set up; use the xenstored socket "
             "(/run/xenstored/socket) or load the Xen modules";
    if (kind == "gntalloc")
      return "not running in a Xen domain, or the xen-gntalloc module is not loaded (modprobe xen-gntalloc); "
             "be-alloc falls back to dma-buf import where available";
    return "not running in a Xen domain, or the xen-gntdev/xen-evtchn/xen-gntalloc modules are not loaded "
           "(modprobe xen-gntdev xen-evtchn xen-gntalloc)";
  }
  if (err == EACCES || err == EPERM)
    return "permission denied: run vdispld as root (the systemd unit allows exactly "
           "/dev/xen/{gntdev,gntalloc,evtchn,xenbus})";
  return nullptr;
}

const char* GntdevHint(const std::string& call, int err) {
  bool dmabuf = Contains(call, "DMABUF");
  if (dmabuf && err == ENOTTY)
    return "this kernel is built without CONFIG_XEN_GNTDEV_DMABUF (stock Debian kernels are): zero-copy is "
           "unavailable and buffers are copied";
  if (Contains(call, "EXP_FROM_REFS") && err == EINVAL)
    return "an x86 PV domain cannot export grants as a dma-buf (or the count is 0 or above gntdev.limit): "
           "this buffer is copied; run the backend in a PVH, HVM or Arm domain for zero-copy";
  if (Contains(call, "IMP_TO_REFS") && err == EINVAL)
    return "gntdev refuses this dma-buf: it must be exactly count pages at offset 0, backed by system "
           "memory (not VRAM), and the domain must not be x86 PV";
  if (Contains(call, "EXP_WAIT_RELEASED") && err == ETIMEDOUT)
    return "an importer (the display driver) still holds the buffer; the guest's pages stay mapped until it lets go";
  if ((Contains(call, "MAP_GRANT_REF") || Contains(call, "mmap")) && (err == ENOMEM || err == ENOSPC || err == E2BIG))
    return "too many grants mapped: raise the gntdev limit or Xen's max_maptrack_frames, or lower the guests' buffer "
           "quota";
  if (Contains(call, "mmap") && (err == EINVAL || err == EFAULT || err == EIO))
    return "the guest's grant is invalid, revoked, read-only, or not granted to this domain";
  return nullptr;
}

const char* GntallocHint(const std::string& call, int err) {
  if (Contains(call, "ALLOC_GREF") && err == ENOSPC)
    return "gntalloc's page limit is reached (module parameter limit, 1024 pages by default): "
           "raise it, e.g. modprobe xen-gntalloc limit=65536";
  if (Contains(call, "ALLOC_GREF") && err == ENOMEM)
    return "out of grant entries or memory: raise the domain's max_grant_frames";
  return nullptr;
}

const char* EvtchnHint(const std::string& call, int err) {
  if (Contains(call, "BIND_INTERDOMAIN") && (err == EINVAL || err == ENOENT || err == ESRCH))
    return "the remote port is not an unbound port offered to this domain (stale XenStore value or a dead guest)";
  if (Contains(call, "RESTRICT_DOMID") && err == ENOTTY)
    return "this kernel cannot restrict event channels to one domain";
  return nullptr;
}

const char* DrmHint(const std::string& call, int err) {
  if (call == "open" && (err == ENOENT || err == ENODEV || err == ENXIO))
    return "no DRM/KMS device: load the display's KMS driver (e.g. bochs-drm, virtio-gpu, i915), or use --output "
           "headless";
  if (call == "open" && (err == EACCES || err == EPERM))
    return "permission denied: run vdispld as root or in the video group";
  if (Contains(call, "SetMaster") && (err == EBUSY || err == EACCES || err == EPERM || err == EINVAL))
    return "another process (a compositor, an X server, fbcon's owner) holds DRM master: stop it or switch it to "
           "another VT; "
           "vdispld takes the display back when it is released";
  if ((Contains(call, "SetCrtc") || Contains(call, "PageFlip") || Contains(call, "AtomicCommit")) &&
      (err == EACCES || err == EPERM))
    return "not DRM master any more: another process took the display; scanout resumes when it is given back";
  if (Contains(call, "PRIME_FD_TO_HANDLE") && (err == ENOSYS || err == EOPNOTSUPP || err == EINVAL || err == ENODEV))
    return "this DRM driver cannot import the dma-buf (no PRIME import, or it needs contiguous memory): the buffer is "
           "copied";
  if (Contains(call, "ADDFB2") && (err == EINVAL || err == ERANGE || err == ENOSPC))
    return "the display engine refused the framebuffer (pitch alignment, offset, format or modifier): the buffer is "
           "copied";
  if (Contains(call, "CREATE_DUMB") && (err == ENOSYS || err == EOPNOTSUPP))
    return "this DRM driver has no dumb buffers; it cannot be used for scanout by vdispld";
  return nullptr;
}

std::string KindFromPath(const std::string& device) {
  for (const char* k : {"gntdev", "gntalloc", "evtchn", "xenbus"})
    if (StartsWith(device, "/dev/xen/") && Contains(device, k)) return k;
  if (StartsWith(device, "/dev/dri")) return "drm";
  return std::string();
}

}  // namespace

const char* Hint(const std::string& kindIn, const std::string& device, const std::string& call, int err) {
  std::string kind = kindIn.empty() ? KindFromPath(device) : kindIn;
  if (kind == "gntdev" || kind == "gntalloc" || kind == "evtchn" || kind == "xenbus") {
    if (call == "open") return XenOpenHint(kind, err);
    if (kind == "gntdev") return GntdevHint(call, err);
    if (kind == "gntalloc") return GntallocHint(call, err);
    if (kind == "evtchn") return EvtchnHint(call, err);
    return nullptr;
  }
  if (kind == "drm") return DrmHint(call, err);
  if (kind == "notify" && (err == ENOENT || err == ECONNREFUSED))
    return "$NOTIFY_SOCKET names a socket nobody listens on (stale environment?)";
  return nullptr;
}

}  // namespace vdispl
