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

/**
 * Xen's errno values (xen/errno.h), apart from Linux's table (src/util/errno.ts) because they are
 * what a response's `status` may carry (negated). Where a name exists in both the numbers are the
 * same; Linux has names Xen lacks (ENOTTY, EFBIG), which have no Xen number and so are never sent.
 */
export const XenErrno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  ETIME: 62,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ERESTART: 85,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
} as const;

const XEN_ERRNOS: ReadonlySet<number> = new Set(Object.values(XenErrno));

/** Whether Xen defines the positive errno `n` (so `-n` is a valid status). */
export function isXenErrno(n: number): boolean {
  return XEN_ERRNOS.has(n);
}

// The ones the protocol code names, for brevity at the call sites.
export const XEN_ENOENT = XenErrno.ENOENT;
export const XEN_EIO = XenErrno.EIO;
export const XEN_E2BIG = XenErrno.E2BIG;
export const XEN_EAGAIN = XenErrno.EAGAIN;
export const XEN_ENOMEM = XenErrno.ENOMEM;
export const XEN_EFAULT = XenErrno.EFAULT;
export const XEN_EBUSY = XenErrno.EBUSY;
export const XEN_EEXIST = XenErrno.EEXIST;
export const XEN_ENODEV = XenErrno.ENODEV;
export const XEN_EINVAL = XenErrno.EINVAL;
export const XEN_ENOSYS = XenErrno.ENOSYS;
export const XEN_EOPNOTSUPP = XenErrno.EOPNOTSUPP;
export const XEN_ETIMEDOUT = XenErrno.ETIMEDOUT;

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
/**
 * Guest-visible wait limits of the Linux frontend, in milliseconds: a request's response
 * (XEN_DRM_FRONT_WAIT_BACK_MS) and a flip's completion event (FRAME_DONE_TO_MS).
 */
export const LINUX_FE_REQUEST_TIMEOUT_MS = 3000;
export const LINUX_FE_FRAME_DONE_TIMEOUT_MS = 3100;
