// Struct sizes and field offsets of the kbdif wire format, named as in xen/io/kbdif.h so the layout
// test can compare them field by field with what the compiler reports from the header. The codecs
// read every byte position from here.
import type { StructLayout } from '../displif/wire-layout.js';

export const KBD_WIRE = {
  xenkbd_motion: { size: 16, fields: { type: 0, rel_x: 4, rel_y: 8, rel_z: 12 } },
  xenkbd_key: { size: 8, fields: { type: 0, pressed: 1, keycode: 4 } },
  xenkbd_position: { size: 16, fields: { type: 0, abs_x: 4, abs_y: 8, rel_z: 12 } },
  // u is the union of pos {abs_x, abs_y}, shape {major, minor} and orientation.
  xenkbd_mtouch: { size: 16, fields: { type: 0, event_type: 1, contact_id: 2, reserved: 3, u: 8 } },
  xenkbd_page: { size: 16, fields: { in_cons: 0, in_prod: 4, out_cons: 8, out_prod: 12 } },
} as const satisfies Record<string, StructLayout>;

const MT_U = KBD_WIRE.xenkbd_mtouch.fields.u;

/** Absolute offsets within one 40-byte event; everything not named here is reserved (zero). */
export const EV = {
  type: 0,
  motion: {
    relX: KBD_WIRE.xenkbd_motion.fields.rel_x,
    relY: KBD_WIRE.xenkbd_motion.fields.rel_y,
    relZ: KBD_WIRE.xenkbd_motion.fields.rel_z,
  },
  key: { pressed: KBD_WIRE.xenkbd_key.fields.pressed, keycode: KBD_WIRE.xenkbd_key.fields.keycode },
  pos: {
    absX: KBD_WIRE.xenkbd_position.fields.abs_x,
    absY: KBD_WIRE.xenkbd_position.fields.abs_y,
    relZ: KBD_WIRE.xenkbd_position.fields.rel_z,
  },
  mtouch: {
    eventType: KBD_WIRE.xenkbd_mtouch.fields.event_type,
    contactId: KBD_WIRE.xenkbd_mtouch.fields.contact_id,
    absX: MT_U,
    absY: MT_U + 4,
    major: MT_U,
    minor: MT_U + 4,
    orientation: MT_U,
  },
} as const;

export const KBD_PAGE = KBD_WIRE.xenkbd_page.fields;
