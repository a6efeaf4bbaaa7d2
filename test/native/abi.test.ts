// The ioctl numbers, ioctl layouts and DRM constants the TypeScript side writes down, against what
// the compiler computed from the installed kernel, Xen and libdrm headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/native/addon.js';
import { CONSTANTS, IOCTLS, LAYOUTS, VARIABLE_IOCTLS, ioc } from '../../src/native/abi.js';

const abi = native().kernelAbi();

void test('every ioctl number matches the headers', () => {
  for (const [name, value] of Object.entries(IOCTLS)) {
    assert.equal(
      abi.ioctls[name],
      value,
      `${name}: header 0x${abi.ioctls[name]?.toString(16)} vs 0x${value.toString(16)}`,
    );
  }
  assert.deepEqual(Object.keys(abi.ioctls).sort(), Object.keys(IOCTLS).sort(), 'same set of ioctls on both sides');
});

void test('the gntdev and evtchn ioctl numbers, as computed by hand, are the ones in use', () => {
  assert.equal(IOCTLS.IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, 0x00144709);
  assert.equal(IOCTLS.IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, 0x0008470a);
  assert.equal(IOCTLS.IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, 0x0014470b);
  assert.equal(IOCTLS.IOCTL_GNTDEV_DMABUF_IMP_RELEASE, 0x0008470c);
  assert.equal(IOCTLS.IOCTL_GNTDEV_MAP_GRANT_REF, 0x00184700);
  assert.equal(IOCTLS.IOCTL_GNTDEV_UNMAP_GRANT_REF, 0x00104701);
  assert.equal(IOCTLS.IOCTL_EVTCHN_BIND_INTERDOMAIN, 0x00084501);
  assert.equal(IOCTLS.IOCTL_EVTCHN_NOTIFY, 0x00044504);
  assert.equal(IOCTLS.IOCTL_EVTCHN_UNBIND, 0x00044503);
});

void test('every struct layout matches the headers', () => {
  for (const [name, want] of Object.entries(LAYOUTS)) {
    const got = abi.layouts[name];
    assert.ok(got, `${name} exported by the addon`);
    assert.equal(got.size, want.size, `${name} size`);
    for (const [field, off] of Object.entries(want.fields)) assert.equal(got.fields[field], off, `${name}.${field}`);
  }
});

void test('variable-length ioctls: the number encodes one entry, the buffer holds count entries', () => {
  const exp = LAYOUTS.ioctl_gntdev_dmabuf_exp_from_refs;
  assert.equal(VARIABLE_IOCTLS.gntdevExport.header, exp.fields.refs);
  assert.equal(VARIABLE_IOCTLS.gntdevExport.numberSize, exp.size, 'sizeof with refs[1]');
  assert.equal(VARIABLE_IOCTLS.gntdevImport.header, LAYOUTS.ioctl_gntdev_dmabuf_imp_to_refs.fields.refs);
  assert.equal(VARIABLE_IOCTLS.gntdevMap.header, LAYOUTS.ioctl_gntdev_map_grant_ref.fields.refs);
  assert.equal(VARIABLE_IOCTLS.gntdevMap.entry, LAYOUTS.ioctl_gntdev_grant_ref.size);
  assert.equal(VARIABLE_IOCTLS.gntallocAlloc.header, LAYOUTS.ioctl_gntalloc_alloc_gref.fields.gref_ids);
  // 1080p XRGB8888: 2025 pages -> an 8116-byte export buffer, though the ioctl number says 20.
  const count = 2025;
  assert.equal(VARIABLE_IOCTLS.gntdevExport.header + VARIABLE_IOCTLS.gntdevExport.entry * count, 8116);
  assert.equal((IOCTLS.IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS >>> 16) & 0x3fff, 20);
});

void test('DRM and Xen constants match the headers', () => {
  for (const [name, value] of Object.entries(CONSTANTS)) assert.equal(abi.constants[name], value, name);
});

void test('the _IOC encoder is the kernel one', () => {
  assert.equal(ioc(0, 'G', 9, 20), 0x00144709);
  assert.equal(ioc(3, 'd', 0xb2, 32), 0xc02064b2);
});

void test('the displif pixel formats carry the FourCCs of drm_fourcc.h', async () => {
  const { PIXEL_FORMATS } = await import('../../src/displif/formats.js');
  for (const f of PIXEL_FORMATS) assert.equal(abi.constants[`DRM_FORMAT_${f.name}`], f.fourcc, f.name);
});
