// The displif protocol's numbers, named once. Values follow xen/io/displif.h, io/ring.h, io/xenbus.h
// and xen/errno.h; test/displif/layout.test.ts holds the ones the native addon can see against the
// compiled headers.

/** Request operation codes (`XENDISPL_OP_*`). Codes 0..15 are reserved by the header. */
export const Op = {
  DBUF_CREATE: 0x10,
  DBUF_DESTROY: 0x11,
  FB_ATTACH: 0x12,
  FB_DETACH: 0x13,
  SET_CONFIG: 0x14,
  PG_FLIP: 0x15,
  /** Protocol version 2 only. */
  GET_EDID: 0x16,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Operations the header says travel on connector 0's ring only (not connector specific). */
export const GENERIC_OPS: ReadonlySet<number> = new Set([Op.DBUF_CREATE, Op.DBUF_DESTROY, Op.FB_ATTACH, Op.FB_DETACH]);

/** Event types (`XENDISPL_EVT_*`). */
export const EvtType = {
  PG_FLIP: 0x00,
} as const;
export type EvtType = (typeof EvtType)[keyof typeof EvtType];

/** `XENDISPL_DBUF_FLG_REQ_ALLOC`: the frontend asks the backend to allocate the buffer (be-alloc). */
export const DBUF_FLG_REQ_ALLOC = 1 << 0;

export const PROTOCOL_VERSION = 2;
/** Versions this backend speaks, published in the backend's `versions` key. */
export const SUPPORTED_VERSIONS: readonly ProtocolVersion[] = [1, 2];
export type ProtocolVersion = 1 | 2;
export const DRIVER_NAME = 'vdispl';
export const LIST_SEPARATOR = ',';
export const RESOLUTION_SEPARATOR = 'x';

/** `enum xenbus_state` from io/xenbus.h. */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];

export function xenbusStateName(s: number): string {
  for (const [name, v] of Object.entries(XenbusState)) if (v === s) return name;
  return `Invalid(${s})`;
}

// Positive Xen errno values (xen/errno.h). A response carries the negation in `status`.
export const XEN_EPERM = 1;
export const XEN_ENOENT = 2;
export const XEN_EIO = 5;
export const XEN_E2BIG = 7;
export const XEN_EAGAIN = 11;
export const XEN_ENOMEM = 12;
export const XEN_EFAULT = 14;
export const XEN_EBUSY = 16;
export const XEN_EEXIST = 17;
export const XEN_ENODEV = 19;
export const XEN_EINVAL = 22;
export const XEN_ENOSPC = 28;
export const XEN_ERANGE = 34;
export const XEN_ENOSYS = 38;
export const XEN_EOVERFLOW = 75;
export const XEN_EOPNOTSUPP = 95;
export const XEN_ENOBUFS = 105;
export const XEN_ETIMEDOUT = 110;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [XEN_EPERM]: 'EPERM',
  [XEN_ENOENT]: 'ENOENT',
  [XEN_EIO]: 'EIO',
  [XEN_E2BIG]: 'E2BIG',
  [XEN_EAGAIN]: 'EAGAIN',
  [XEN_ENOMEM]: 'ENOMEM',
  [XEN_EFAULT]: 'EFAULT',
  [XEN_EBUSY]: 'EBUSY',
  [XEN_EEXIST]: 'EEXIST',
  [XEN_ENODEV]: 'ENODEV',
  [XEN_EINVAL]: 'EINVAL',
  [XEN_ENOSPC]: 'ENOSPC',
  [XEN_ERANGE]: 'ERANGE',
  [XEN_ENOSYS]: 'ENOSYS',
  [XEN_EOVERFLOW]: 'EOVERFLOW',
  [XEN_EOPNOTSUPP]: 'EOPNOTSUPP',
  [XEN_ENOBUFS]: 'ENOBUFS',
  [XEN_ETIMEDOUT]: 'ETIMEDOUT',
};

/** "EINVAL" for 22 or -22; for logs and metrics labels. */
export function xenErrnoName(errno: number): string {
  return ERRNO_NAMES[Math.abs(errno)] ?? `E#${Math.abs(errno)}`;
}

/** XenStore keys of a vdispl device (`XENDISPL_FIELD_*` plus the generic XenBus ones). */
export const XsField = {
  // displif.h
  BE_VERSIONS: 'versions',
  FE_VERSION: 'version',
  REQ_RING_REF: 'req-ring-ref',
  REQ_CHANNEL: 'req-event-channel',
  EVT_RING_REF: 'evt-ring-ref',
  EVT_CHANNEL: 'evt-event-channel',
  RESOLUTION: 'resolution',
  BE_ALLOC: 'be-alloc',
  UNIQUE_ID: 'unique-id',
  // Generic XenBus device keys (written by the toolstack or the other end).
  STATE: 'state',
  ONLINE: 'online',
  FRONTEND: 'frontend',
  FRONTEND_ID: 'frontend-id',
  BACKEND: 'backend',
  BACKEND_ID: 'backend-id',
  /** Where a backend reports a fatal error for the toolstack and the admin, as kernel backends do. */
  ERROR: 'error',
} as const;

// Geometry and limits.
export const PAGE_SIZE = 4096;
/** Every request, response and event is one 64-byte slot. */
export const SLOT_SIZE = 64;
/** Shared ring header before the first slot (req_prod, req_event, rsp_prod, rsp_event, pvt, pad). */
export const RING_HEADER_SIZE = 64;
/** `__CONST_RING_SIZE(xen_displif, 4096)`: (4096-64)/64 = 63 rounded down to a power of two. */
export const RING_SIZE = 32;
/** Event page: header size (`XENDISPL_IN_RING_OFFS`), ring bytes and slot count (63, not a power of two). */
export const EVT_RING_OFFS = 64;
export const EVT_RING_SIZE = PAGE_SIZE - EVT_RING_OFFS;
export const EVT_RING_LEN = 63;
/** Grant refs per page-directory page: (4096 - 4) / 4. */
export const GREFS_PER_DIR_PAGE = 1023;
/** The Linux frontend's XEN_DRM_FRONT_MAX_CRTCS. */
export const MAX_CONNECTORS = 4;
export const EDID_BLOCK_SIZE = 128;
export const EDID_BLOCK_COUNT = 256;
/** Minimum GET_EDID buffer the frontend must supply. */
export const EDID_MAX_SIZE = EDID_BLOCK_SIZE * EDID_BLOCK_COUNT;
/** Linux xen-drm-front mode_config limits: a larger `resolution` leaves the guest without a mode. */
export const LINUX_FE_MAX_WIDTH = 4095;
export const LINUX_FE_MAX_HEIGHT = 2047;
/** gntdev's default `limit`: grants one map or dma-buf request may hold. */
export const GNTDEV_MAX_REFS = 65536;
/** Event-channel ports are below EVTCHN_FIFO_NR_CHANNELS (1 << 17), the larger of Xen's two ABIs. */
export const EVTCHN_MAX_PORT = (1 << 17) - 1;
/** Guest-visible wait limits of the Linux frontend, in milliseconds. */
export const LINUX_FE_REQUEST_TIMEOUT_MS = 3000;
export const LINUX_FE_FRAME_DONE_TIMEOUT_MS = 3100;
