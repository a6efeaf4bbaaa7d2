// Struct sizes and field offsets of the displif wire format, named as in xen/io/displif.h so the
// layout test can compare this table field by field with what the compiler reports from the header.
// The codecs read every offset from here; nothing else in src/displif spells a byte position.

export interface StructLayout {
  readonly size: number;
  readonly fields: Readonly<Record<string, number>>;
}

export const WIRE = {
  xendispl_req: { size: 64, fields: { id: 0, operation: 2, reserved: 3, op: 8 } },
  xendispl_resp: { size: 64, fields: { id: 0, operation: 2, reserved: 3, status: 4, op: 8 } },
  xendispl_evt: { size: 64, fields: { id: 0, type: 2, reserved: 3, op: 8 } },
  xendispl_dbuf_create_req: {
    size: 40,
    fields: {
      dbuf_cookie: 0,
      width: 8,
      height: 12,
      bpp: 16,
      buffer_sz: 20,
      flags: 24,
      gref_directory: 28,
      data_ofs: 32,
    },
  },
  xendispl_dbuf_destroy_req: { size: 8, fields: { dbuf_cookie: 0 } },
  xendispl_fb_attach_req: {
    size: 32,
    fields: { dbuf_cookie: 0, fb_cookie: 8, width: 16, height: 20, pixel_format: 24 },
  },
  xendispl_fb_detach_req: { size: 8, fields: { fb_cookie: 0 } },
  xendispl_set_config_req: { size: 32, fields: { fb_cookie: 0, x: 8, y: 12, width: 16, height: 20, bpp: 24 } },
  xendispl_page_flip_req: { size: 8, fields: { fb_cookie: 0 } },
  xendispl_get_edid_req: { size: 8, fields: { buffer_sz: 0, gref_directory: 4 } },
  xendispl_get_edid_resp: { size: 4, fields: { edid_sz: 0 } },
  xendispl_pg_flip_evt: { size: 8, fields: { fb_cookie: 0 } },
  // gref[] is a flexible array declared as gref[1]: sizeof covers one entry.
  xendispl_page_directory: { size: 8, fields: { gref_dir_next_page: 0, gref: 4 } },
  xendispl_event_page: { size: 64, fields: { in_cons: 0, in_prod: 4, reserved: 8 } },
  // ring[] likewise declared with one (64-byte) entry.
  xen_displif_sring: { size: 128, fields: { req_prod: 0, req_event: 4, rsp_prod: 8, rsp_event: 12, ring: 64 } },
} as const satisfies Record<string, StructLayout>;

const REQ_OP = WIRE.xendispl_req.fields.op;
const RSP_OP = WIRE.xendispl_resp.fields.op;
const EVT_OP = WIRE.xendispl_evt.fields.op;

/**
 * Absolute offsets within a 64-byte slot, and for each request the end of its named fields: every
 * byte from there to the end of the slot is reserved (the union's `reserved[56]`, or struct padding)
 * and must be zero.
 */
export const REQ = {
  id: WIRE.xendispl_req.fields.id,
  operation: WIRE.xendispl_req.fields.operation,
  reserved: WIRE.xendispl_req.fields.reserved,
  op: REQ_OP,
  dbufCreate: {
    dbufCookie: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.dbuf_cookie,
    width: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.width,
    height: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.height,
    bpp: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.bpp,
    bufferSz: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.buffer_sz,
    flags: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.flags,
    grefDirectory: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.gref_directory,
    dataOfs: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.data_ofs,
    end: REQ_OP + WIRE.xendispl_dbuf_create_req.fields.data_ofs + 4,
  },
  dbufDestroy: {
    dbufCookie: REQ_OP + WIRE.xendispl_dbuf_destroy_req.fields.dbuf_cookie,
    end: REQ_OP + WIRE.xendispl_dbuf_destroy_req.fields.dbuf_cookie + 8,
  },
  fbAttach: {
    dbufCookie: REQ_OP + WIRE.xendispl_fb_attach_req.fields.dbuf_cookie,
    fbCookie: REQ_OP + WIRE.xendispl_fb_attach_req.fields.fb_cookie,
    width: REQ_OP + WIRE.xendispl_fb_attach_req.fields.width,
    height: REQ_OP + WIRE.xendispl_fb_attach_req.fields.height,
    pixelFormat: REQ_OP + WIRE.xendispl_fb_attach_req.fields.pixel_format,
    end: REQ_OP + WIRE.xendispl_fb_attach_req.fields.pixel_format + 4,
  },
  fbDetach: {
    fbCookie: REQ_OP + WIRE.xendispl_fb_detach_req.fields.fb_cookie,
    end: REQ_OP + WIRE.xendispl_fb_detach_req.fields.fb_cookie + 8,
  },
  setConfig: {
    fbCookie: REQ_OP + WIRE.xendispl_set_config_req.fields.fb_cookie,
    x: REQ_OP + WIRE.xendispl_set_config_req.fields.x,
    y: REQ_OP + WIRE.xendispl_set_config_req.fields.y,
    width: REQ_OP + WIRE.xendispl_set_config_req.fields.width,
    height: REQ_OP + WIRE.xendispl_set_config_req.fields.height,
    bpp: REQ_OP + WIRE.xendispl_set_config_req.fields.bpp,
    end: REQ_OP + WIRE.xendispl_set_config_req.fields.bpp + 4,
  },
  pgFlip: {
    fbCookie: REQ_OP + WIRE.xendispl_page_flip_req.fields.fb_cookie,
    end: REQ_OP + WIRE.xendispl_page_flip_req.fields.fb_cookie + 8,
  },
  getEdid: {
    bufferSz: REQ_OP + WIRE.xendispl_get_edid_req.fields.buffer_sz,
    grefDirectory: REQ_OP + WIRE.xendispl_get_edid_req.fields.gref_directory,
    end: REQ_OP + WIRE.xendispl_get_edid_req.fields.gref_directory + 4,
  },
} as const;

export const RSP = {
  id: WIRE.xendispl_resp.fields.id,
  operation: WIRE.xendispl_resp.fields.operation,
  status: WIRE.xendispl_resp.fields.status,
  edidSz: RSP_OP + WIRE.xendispl_get_edid_resp.fields.edid_sz,
} as const;

export const EVT = {
  id: WIRE.xendispl_evt.fields.id,
  type: WIRE.xendispl_evt.fields.type,
  reserved: WIRE.xendispl_evt.fields.reserved,
  pgFlipFbCookie: EVT_OP + WIRE.xendispl_pg_flip_evt.fields.fb_cookie,
  pgFlipEnd: EVT_OP + WIRE.xendispl_pg_flip_evt.fields.fb_cookie + 8,
} as const;

export const SRING = WIRE.xen_displif_sring.fields;
export const EVT_PAGE = WIRE.xendispl_event_page.fields;
export const PAGE_DIR = WIRE.xendispl_page_directory.fields;
