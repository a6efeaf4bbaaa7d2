// The kbdif codec's struct layout and constants against what the compiler reports from the real
// xen/io/kbdif.h (through the addon), as test/displif does for displif.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { KBD_WIRE, EV } from '../../src/kbdif/wire-layout.js';
import * as C from '../../src/kbdif/constants.js';

interface Layout {
  readonly [name: string]: { size: number; fields: Record<string, number> } | Record<string, number | string>;
}

const header = (): Layout => (native()['kbdifLayout'] as () => Layout)();

void test('every struct size and field offset equals the header', () => {
  const h = header();
  const structs = Object.keys(h).filter((k) => !['constants', 'strings', 'union'].includes(k));
  assert.deepEqual(Object.keys(KBD_WIRE).sort(), structs.sort());
  for (const name of structs) {
    const s = h[name] as { size: number; fields: Record<string, number> };
    const ts = KBD_WIRE[name as keyof typeof KBD_WIRE];
    assert.equal(ts.size, s.size, `sizeof(struct ${name})`);
    assert.deepEqual({ ...ts.fields }, { ...s.fields }, `field offsets of struct ${name}`);
  }
  const u = h['union'] as Record<string, number>;
  assert.equal(EV.mtouch.absX, u['pos.abs_x']);
  assert.equal(EV.mtouch.absY, u['pos.abs_y']);
  assert.equal(EV.mtouch.major, u['shape.major']);
  assert.equal(EV.mtouch.minor, u['shape.minor']);
  assert.equal(EV.mtouch.orientation, u['orientation']);
  assert.equal(C.IN_EVENT_SIZE, u['in_event']);
  assert.equal(C.OUT_EVENT_SIZE, u['out_event']);
});

void test('constants and field names equal the header', () => {
  const h = header();
  assert.deepEqual(
    { ...(h['constants'] as Record<string, number>) },
    {
      XENKBD_TYPE_MOTION: C.EventType.MOTION,
      XENKBD_TYPE_RESERVED: C.EventType.RESERVED,
      XENKBD_TYPE_KEY: C.EventType.KEY,
      XENKBD_TYPE_POS: C.EventType.POS,
      XENKBD_TYPE_MTOUCH: C.EventType.MTOUCH,
      XENKBD_MT_EV_DOWN: C.MtEvent.DOWN,
      XENKBD_MT_EV_UP: C.MtEvent.UP,
      XENKBD_MT_EV_MOTION: C.MtEvent.MOTION,
      XENKBD_MT_EV_SYN: C.MtEvent.SYN,
      XENKBD_MT_EV_SHAPE: C.MtEvent.SHAPE,
      XENKBD_MT_EV_ORIENT: C.MtEvent.ORIENT,
      XENKBD_IN_EVENT_SIZE: C.IN_EVENT_SIZE,
      XENKBD_OUT_EVENT_SIZE: C.OUT_EVENT_SIZE,
      XENKBD_IN_RING_SIZE: C.IN_RING_SIZE,
      XENKBD_IN_RING_LEN: C.IN_RING_LEN,
      XENKBD_IN_RING_OFFS: C.IN_RING_OFFS,
      XENKBD_OUT_RING_SIZE: C.OUT_RING_SIZE,
      XENKBD_OUT_RING_LEN: C.OUT_RING_LEN,
      XENKBD_OUT_RING_OFFS: C.OUT_RING_OFFS,
    },
  );
  assert.deepEqual(
    { ...(h['strings'] as Record<string, string>) },
    {
      XENKBD_DRIVER_NAME: C.DRIVER_NAME,
      XENKBD_FIELD_FEAT_DSBL_KEYBRD: C.KbdField.FEAT_DSBL_KEYBRD,
      XENKBD_FIELD_FEAT_DSBL_POINTER: C.KbdField.FEAT_DSBL_POINTER,
      XENKBD_FIELD_FEAT_ABS_POINTER: C.KbdField.FEAT_ABS_POINTER,
      XENKBD_FIELD_FEAT_RAW_POINTER: C.KbdField.FEAT_RAW_POINTER,
      XENKBD_FIELD_FEAT_MTOUCH: C.KbdField.FEAT_MTOUCH,
      XENKBD_FIELD_REQ_ABS_POINTER: C.KbdField.REQ_ABS_POINTER,
      XENKBD_FIELD_REQ_RAW_POINTER: C.KbdField.REQ_RAW_POINTER,
      XENKBD_FIELD_REQ_MTOUCH: C.KbdField.REQ_MTOUCH,
      XENKBD_FIELD_RING_GREF: C.KbdField.RING_GREF,
      XENKBD_FIELD_EVT_CHANNEL: C.KbdField.EVT_CHANNEL,
      XENKBD_FIELD_WIDTH: C.KbdField.WIDTH,
      XENKBD_FIELD_HEIGHT: C.KbdField.HEIGHT,
      XENKBD_FIELD_MT_WIDTH: C.KbdField.MT_WIDTH,
      XENKBD_FIELD_MT_HEIGHT: C.KbdField.MT_HEIGHT,
      XENKBD_FIELD_MT_NUM_CONTACTS: C.KbdField.MT_NUM_CONTACTS,
      XENKBD_FIELD_UNIQUE_ID: C.KbdField.UNIQUE_ID,
      XENKBD_FIELD_RING_REF: C.KbdField.RING_REF,
    },
  );
});

void test('both rings fit the page after the index header', () => {
  assert.ok(KBD_WIRE.xenkbd_page.size <= C.IN_RING_OFFS);
  assert.ok(C.OUT_RING_OFFS + C.OUT_RING_SIZE <= C.PAGE_SIZE);
  assert.ok(C.IN_RING_LEN * C.IN_EVENT_SIZE <= C.IN_RING_SIZE);
  for (const s of [KBD_WIRE.xenkbd_motion, KBD_WIRE.xenkbd_key, KBD_WIRE.xenkbd_position, KBD_WIRE.xenkbd_mtouch])
    assert.ok(s.size <= C.IN_EVENT_SIZE);
});
