// The TypeScript codec's struct layout against what the compiler reports from the real displif.h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { WIRE } from '../../src/displif/wire-layout.js';
import * as C from '../../src/displif/constants.js';

void test('every struct size and field offset equals the header', () => {
  const fromHeader = native().displifLayout();
  const structs = Object.keys(fromHeader).filter((k) => k !== 'constants' && k !== 'strings');
  assert.deepEqual(Object.keys(WIRE).sort(), structs.sort(), 'the same set of structs on both sides');
  for (const name of structs) {
    const h = fromHeader[name]!;
    const ts = WIRE[name as keyof typeof WIRE];
    assert.equal(ts.size, h.size, `sizeof(struct ${name})`);
    assert.deepEqual({ ...ts.fields }, { ...h.fields }, `field offsets of struct ${name}`);
  }
});

void test('constants equal the header', () => {
  const { constants: h, strings: s } = native().displifLayout();
  const expect: Record<string, number> = {
    XENDISPL_PROTOCOL_VERSION_INT: C.PROTOCOL_VERSION,
    XENDISPL_OP_DBUF_CREATE: C.Op.DBUF_CREATE,
    XENDISPL_OP_DBUF_DESTROY: C.Op.DBUF_DESTROY,
    XENDISPL_OP_FB_ATTACH: C.Op.FB_ATTACH,
    XENDISPL_OP_FB_DETACH: C.Op.FB_DETACH,
    XENDISPL_OP_SET_CONFIG: C.Op.SET_CONFIG,
    XENDISPL_OP_PG_FLIP: C.Op.PG_FLIP,
    XENDISPL_OP_GET_EDID: C.Op.GET_EDID,
    XENDISPL_EVT_PG_FLIP: C.EvtType.PG_FLIP,
    XENDISPL_DBUF_FLG_REQ_ALLOC: C.DBUF_FLG_REQ_ALLOC,
    XENDISPL_EDID_BLOCK_SIZE: C.EDID_BLOCK_SIZE,
    XENDISPL_EDID_BLOCK_COUNT: C.EDID_BLOCK_COUNT,
    XENDISPL_EDID_MAX_SIZE: C.EDID_MAX_SIZE,
    XENDISPL_IN_RING_OFFS: C.EVT_RING_OFFS,
    XENDISPL_IN_RING_SIZE: C.EVT_RING_SIZE,
    XENDISPL_IN_RING_LEN: C.EVT_RING_LEN,
    XENDISPL_EVENT_PAGE_SIZE: C.PAGE_SIZE,
    RING_SIZE: C.RING_SIZE,
  };
  assert.deepEqual({ ...h }, expect);
  assert.deepEqual(
    { ...s },
    {
      XENDISPL_PROTOCOL_VERSION: String(C.PROTOCOL_VERSION),
      XENDISPL_DRIVER_NAME: C.DRIVER_NAME,
      XENDISPL_LIST_SEPARATOR: C.LIST_SEPARATOR,
      XENDISPL_RESOLUTION_SEPARATOR: C.RESOLUTION_SEPARATOR,
      XENDISPL_FIELD_BE_VERSIONS: C.XsField.BE_VERSIONS,
      XENDISPL_FIELD_FE_VERSION: C.XsField.FE_VERSION,
      XENDISPL_FIELD_REQ_RING_REF: C.XsField.REQ_RING_REF,
      XENDISPL_FIELD_REQ_CHANNEL: C.XsField.REQ_CHANNEL,
      XENDISPL_FIELD_EVT_RING_REF: C.XsField.EVT_RING_REF,
      XENDISPL_FIELD_EVT_CHANNEL: C.XsField.EVT_CHANNEL,
      XENDISPL_FIELD_RESOLUTION: C.XsField.RESOLUTION,
      XENDISPL_FIELD_BE_ALLOC: C.XsField.BE_ALLOC,
      XENDISPL_FIELD_UNIQUE_ID: C.XsField.UNIQUE_ID,
    },
  );
});

void test('derived geometry is consistent with the struct layout', () => {
  assert.equal(C.SLOT_SIZE, WIRE.xendispl_req.size);
  assert.equal(C.SLOT_SIZE, WIRE.xendispl_resp.size);
  assert.equal(C.SLOT_SIZE, WIRE.xendispl_evt.size);
  assert.equal(C.RING_HEADER_SIZE, WIRE.xen_displif_sring.fields.ring);
  assert.equal(C.GREFS_PER_DIR_PAGE, (C.PAGE_SIZE - WIRE.xendispl_page_directory.fields.gref) / 4);
  assert.equal(C.RING_SIZE & (C.RING_SIZE - 1), 0, 'the control ring size is a power of two');
  assert.ok(C.RING_HEADER_SIZE + C.RING_SIZE * C.SLOT_SIZE <= C.PAGE_SIZE);
});
