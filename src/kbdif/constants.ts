// Constants of the para-virtual input protocol (xen/io/kbdif.h), named as in the header so the
// layout test can hold every value against it. One page is shared per device: a 16-byte header of
// indices, the in-ring (backend to frontend, 51 events of 40 bytes at offset 1024) and the out-ring
// (frontend to backend, 25 events at offset 3072; the header defines no out event).

/** The device class under device/ in the guest and under backend/ in libxl's own naming. */
export const DRIVER_NAME = 'vkbd';
/** libxl's backend kind for `backend-type=linux` (a userspace backend, not QEMU). */
export const BACKEND_KIND = 'vinput';

export const EventType = {
  MOTION: 1,
  RESERVED: 2,
  KEY: 3,
  POS: 4,
  MTOUCH: 5,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export const MtEvent = {
  DOWN: 0,
  UP: 1,
  MOTION: 2,
  SYN: 3,
  SHAPE: 4,
  ORIENT: 5,
} as const;
export type MtEvent = (typeof MtEvent)[keyof typeof MtEvent];

export const KbdField = {
  FEAT_DSBL_KEYBRD: 'feature-disable-keyboard',
  FEAT_DSBL_POINTER: 'feature-disable-pointer',
  FEAT_ABS_POINTER: 'feature-abs-pointer',
  FEAT_RAW_POINTER: 'feature-raw-pointer',
  FEAT_MTOUCH: 'feature-multi-touch',
  REQ_ABS_POINTER: 'request-abs-pointer',
  REQ_RAW_POINTER: 'request-raw-pointer',
  REQ_MTOUCH: 'request-multi-touch',
  RING_GREF: 'page-gref',
  EVT_CHANNEL: 'event-channel',
  WIDTH: 'width',
  HEIGHT: 'height',
  MT_WIDTH: 'multi-touch-width',
  MT_HEIGHT: 'multi-touch-height',
  MT_NUM_CONTACTS: 'multi-touch-num-contacts',
  UNIQUE_ID: 'unique-id',
  /** Obsolete: a frame number, which a userspace backend cannot map. Read only to say so. */
  RING_REF: 'page-ref',
} as const;

export const IN_EVENT_SIZE = 40;
export const OUT_EVENT_SIZE = 40;
export const IN_RING_OFFS = 1024;
export const IN_RING_SIZE = 2048;
/** 51: not a power of two, so both sides index with `idx % 51` on the full 32-bit counter. */
export const IN_RING_LEN = Math.floor(IN_RING_SIZE / IN_EVENT_SIZE);
export const OUT_RING_SIZE = 1024;
export const OUT_RING_LEN = Math.floor(OUT_RING_SIZE / OUT_EVENT_SIZE);
export const OUT_RING_OFFS = IN_RING_OFFS + IN_RING_SIZE;
export const PAGE_SIZE = 4096;

/** Raw (unscaled) absolute coordinates span [0, RAW_MAX] whatever the screen. */
export const RAW_MAX = 0x7fff;
/** Linux's defaults when the backend publishes no width/height (XENFB_WIDTH/HEIGHT). */
export const LINUX_DEFAULT_WIDTH = 800;
export const LINUX_DEFAULT_HEIGHT = 600;

/**
 * Key codes (linux/input-event-codes.h) the Linux frontend can deliver: BTN_LEFT..BTN_TASK go to
 * its pointer device, KEY_ESC..KEY_UNKNOWN-1 and KEY_OK..KEY_MAX-1 to its keyboard. It looks the
 * code up in a bitmap of KEY_CNT bits without a bounds check, so nothing outside these is sent.
 */
export const KEY_ESC = 1;
export const KEY_UNKNOWN = 240;
export const KEY_OK = 0x160;
export const KEY_MAX = 0x2ff;
export const BTN_LEFT = 0x110;
export const BTN_RIGHT = 0x111;
export const BTN_MIDDLE = 0x112;
export const BTN_TASK = 0x117;

export function isDeliverableKey(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= KEY_ESC && code < KEY_UNKNOWN) ||
      (code >= KEY_OK && code < KEY_MAX) ||
      (code >= BTN_LEFT && code <= BTN_TASK))
  );
}

/** Contacts we offer; Linux allocates one slot per contact and drops events for ids beyond. */
export const MT_NUM_CONTACTS = 10;
