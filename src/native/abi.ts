// The kernel ABI this project relies on, written down independently of the C headers: the ioctl
// numbers (from the _IOC encoding and the struct sizes), the variable-length ioctl layouts, and the
// DRM constants the KMS output uses. test/native/abi.test.ts holds every value against what the
// compiler computed from the installed headers (native kernelAbi()), so neither can drift.

const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** Linux's _IOC(dir, type, nr, size) on x86 and Arm (generic layout: 2 dir bits, 14 size bits). */
export function ioc(dir: number, type: string, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0;
}
const io = (type: string, nr: number): number => ioc(IOC_NONE, type, nr, 0);
const iow = (type: string, nr: number, size: number): number => ioc(IOC_WRITE, type, nr, size);
const iowr = (type: string, nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, type, nr, size);
const xen = (type: string, nr: number, size: number): number => ioc(IOC_NONE, type, nr, size);

/**
 * Variable-length gntdev/gntalloc ioctls: the number encodes the struct with a one-element array,
 * but the kernel reads `header + count * entry` bytes. The addon builds buffers from these.
 */
export const VARIABLE_IOCTLS = {
  gntdevMap: { header: 16, entry: 8, numberSize: 24 },
  gntdevExport: { header: 16, entry: 4, numberSize: 20 },
  gntdevImport: { header: 16, entry: 4, numberSize: 20 },
  gntallocAlloc: { header: 16, entry: 4, numberSize: 24 },
} as const;

export const IOCTLS = {
  IOCTL_GNTDEV_MAP_GRANT_REF: xen('G', 0, VARIABLE_IOCTLS.gntdevMap.numberSize),
  IOCTL_GNTDEV_UNMAP_GRANT_REF: xen('G', 1, 16),
  IOCTL_GNTDEV_SET_UNMAP_NOTIFY: xen('G', 7, 16),
  IOCTL_GNTDEV_GRANT_COPY: xen('G', 8, 16),
  IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS: xen('G', 9, VARIABLE_IOCTLS.gntdevExport.numberSize),
  IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED: xen('G', 10, 8),
  IOCTL_GNTDEV_DMABUF_IMP_TO_REFS: xen('G', 11, VARIABLE_IOCTLS.gntdevImport.numberSize),
  IOCTL_GNTDEV_DMABUF_IMP_RELEASE: xen('G', 12, 8),
  IOCTL_GNTALLOC_ALLOC_GREF: xen('G', 5, VARIABLE_IOCTLS.gntallocAlloc.numberSize),
  IOCTL_GNTALLOC_DEALLOC_GREF: xen('G', 6, 16),
  IOCTL_EVTCHN_BIND_INTERDOMAIN: xen('E', 1, 8),
  IOCTL_EVTCHN_UNBIND: xen('E', 3, 4),
  IOCTL_EVTCHN_NOTIFY: xen('E', 4, 4),
  IOCTL_EVTCHN_RESET: xen('E', 5, 0),
  IOCTL_EVTCHN_RESTRICT_DOMID: xen('E', 6, 2),
  DRM_IOCTL_MODE_CREATE_DUMB: iowr('d', 0xb2, 32),
  DRM_IOCTL_MODE_MAP_DUMB: iowr('d', 0xb3, 16),
  DRM_IOCTL_MODE_DESTROY_DUMB: iowr('d', 0xb4, 4),
  DRM_IOCTL_PRIME_FD_TO_HANDLE: iowr('d', 0x2e, 12),
  DRM_IOCTL_PRIME_HANDLE_TO_FD: iowr('d', 0x2d, 12),
  DRM_IOCTL_GEM_CLOSE: iow('d', 0x09, 8),
  DRM_IOCTL_MODE_ADDFB2: iowr('d', 0xb8, 104),
  DRM_IOCTL_MODE_RMFB: iowr('d', 0xaf, 4),
  DRM_IOCTL_MODE_SETCRTC: iowr('d', 0xa2, 104),
  DRM_IOCTL_MODE_PAGE_FLIP: iowr('d', 0xb0, 24),
  DRM_IOCTL_MODE_ATOMIC: iowr('d', 0xbc, 56),
  DRM_IOCTL_SET_MASTER: io('d', 0x1e),
  DRM_IOCTL_DROP_MASTER: io('d', 0x1f),
} as const;

/** Offsets the addon's ioctl buffers rely on (bytes). */
export const LAYOUTS = {
  ioctl_gntdev_map_grant_ref: { size: 24, fields: { count: 0, index: 8, refs: 16 } },
  ioctl_gntdev_grant_ref: { size: 8, fields: { domid: 0, ref: 4 } },
  ioctl_gntdev_unmap_grant_ref: { size: 16, fields: { index: 0, count: 8 } },
  ioctl_gntdev_dmabuf_exp_from_refs: { size: 20, fields: { flags: 0, count: 4, fd: 8, domid: 12, refs: 16 } },
  ioctl_gntdev_dmabuf_exp_wait_released: { size: 8, fields: { fd: 0, wait_to_ms: 4 } },
  ioctl_gntdev_dmabuf_imp_to_refs: { size: 20, fields: { fd: 0, count: 4, domid: 8, reserved: 12, refs: 16 } },
  ioctl_gntdev_dmabuf_imp_release: { size: 8, fields: { fd: 0, reserved: 4 } },
  ioctl_gntalloc_alloc_gref: { size: 24, fields: { domid: 0, flags: 2, count: 4, index: 8, gref_ids: 16 } },
  ioctl_gntalloc_dealloc_gref: { size: 16, fields: { index: 0, count: 8 } },
  ioctl_evtchn_bind_interdomain: { size: 8, fields: { remote_domain: 0, remote_port: 4 } },
  drm_mode_modeinfo: {
    size: 68,
    fields: { clock: 0, hdisplay: 4, vdisplay: 14, vrefresh: 24, flags: 28, type: 32, name: 36 },
  },
  drm_mode_fb_cmd2: {
    size: 104,
    fields: { fb_id: 0, width: 4, pixel_format: 12, handles: 20, pitches: 36, offsets: 52, modifier: 72 },
  },
} as const;

/** gntdev's default per-request grant limit (module parameter gntdev.limit). */
export const GNTDEV_DEFAULT_LIMIT = 65536;

export const GNTDEV_DMA_FLAG_WC = 1;
export const GNTDEV_DMA_FLAG_COHERENT = 2;
export const GNTALLOC_FLAG_WRITABLE = 1;

export const DRM_CAP_DUMB_BUFFER = 0x1;
export const DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3;
export const DRM_CAP_PRIME = 0x5;
export const DRM_PRIME_CAP_IMPORT = 0x1;
export const DRM_PRIME_CAP_EXPORT = 0x2;
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6;
export const DRM_CAP_ADDFB2_MODIFIERS = 0x10;
export const DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12;
export const DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2;
export const DRM_CLIENT_CAP_ATOMIC = 3;
export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
export const DRM_MODE_ATOMIC_TEST_ONLY = 0x0100;
export const DRM_MODE_ATOMIC_NONBLOCK = 0x0200;
export const DRM_MODE_ATOMIC_ALLOW_MODESET = 0x0400;
export const DRM_MODE_OBJECT_CRTC = 0xcccccccc;
export const DRM_MODE_OBJECT_CONNECTOR = 0xc0c0c0c0;
export const DRM_MODE_OBJECT_PLANE = 0xeeeeeeee;
export const DRM_MODE_TYPE_PREFERRED = 1 << 3;
export const DRM_MODE_TYPE_DRIVER = 1 << 6;

/** The constants above by their C names, for the cross-check against the headers. */
export const CONSTANTS: Readonly<Record<string, number>> = {
  GNTDEV_DMA_FLAG_WC,
  GNTDEV_DMA_FLAG_COHERENT,
  GNTALLOC_FLAG_WRITABLE,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_DUMB_PREFERRED_DEPTH,
  DRM_CAP_PRIME,
  DRM_PRIME_CAP_IMPORT,
  DRM_PRIME_CAP_EXPORT,
  DRM_CAP_TIMESTAMP_MONOTONIC,
  DRM_CAP_ADDFB2_MODIFIERS,
  DRM_CAP_CRTC_IN_VBLANK_EVENT,
  DRM_CLIENT_CAP_UNIVERSAL_PLANES,
  DRM_CLIENT_CAP_ATOMIC,
  DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_ATOMIC_TEST_ONLY,
  DRM_MODE_ATOMIC_NONBLOCK,
  DRM_MODE_ATOMIC_ALLOW_MODESET,
  DRM_MODE_OBJECT_CRTC,
  DRM_MODE_OBJECT_CONNECTOR,
  DRM_MODE_OBJECT_PLANE,
  DRM_MODE_TYPE_PREFERRED,
  DRM_MODE_TYPE_DRIVER,
};
