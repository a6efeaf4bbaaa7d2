// What users see from the native device layer on a machine without Xen or a display, and the
// exact failures of each device call against a character device that is not the real one
// (/dev/null answers every ioctl with ENOTTY, as a kernel without the feature would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { native } from '../../src/native/addon.js';
import { isNativeError } from '../../src/native/errors.js';

const n = native();
const noXen = existsSync('/dev/xen') ? 'this machine has /dev/xen' : false;
const noDri = existsSync('/dev/dri') ? 'this machine has /dev/dri' : false;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected a throw');
}

void test('without /dev/xen every Xen device names itself, errno and the fix', { skip: noXen }, () => {
  for (const [Ctor, path] of [
    [n.Gntdev, '/dev/xen/gntdev'],
    [n.Evtchn, '/dev/xen/evtchn'],
    [n.Gntalloc, '/dev/xen/gntalloc'],
  ] as const) {
    const err = thrown(() => new Ctor(path));
    assert.ok(isNativeError(err));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.device, path);
    assert.equal(err.syscall, 'open');
    assert.match(
      err.message,
      new RegExp(`^${path}: open: No such file or directory \\(ENOENT\\) — not running in a Xen domain`),
    );
    assert.match(err.message, /modprobe xen-gntdev|modprobe xen-gntalloc/);
  }
  const bus = thrown(() => n.openDevice('/dev/xen/xenbus', true, true, 'xenbus'));
  assert.match(
    bus.message,
    /^\/dev\/xen\/xenbus: open: .*\(ENOENT\) — not running in a Xen domain, or xenfs is not set up; use the xenstored socket/,
  );
});

void test('without /dev/dri the DRM device says so and points at headless', { skip: noDri }, () => {
  const err = thrown(() => new n.DrmDevice('/dev/dri/card0'));
  assert.ok(isNativeError(err));
  assert.equal(
    err.message,
    "/dev/dri/card0: open: No such file or directory (ENOENT) — no DRM/KMS device: load the display's KMS driver " +
      '(e.g. bochs-drm, virtio-gpu, i915), or use --output headless',
  );
});

void test('a kernel without CONFIG_XEN_GNTDEV_DMABUF: ENOTTY with the advice, probe reports it', async () => {
  const before = n.nativeResources();
  const g = new n.Gntdev('/dev/null');
  assert.deepEqual(g.probeDmabuf(), { exportErrno: 25, importErrno: 25 });
  await assert.rejects(g.exportDmabuf(1, new Uint32Array([8, 9]), 0), (err: unknown) => {
    assert.ok(isNativeError(err));
    assert.equal(err.code, 'ENOTTY');
    assert.equal(err.syscall, 'IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS');
    assert.match(
      err.message,
      /^\/dev\/null: IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS: Inappropriate ioctl for device \(ENOTTY\) — this kernel is built without CONFIG_XEN_GNTDEV_DMABUF/,
    );
    return true;
  });
  await assert.rejects(g.importToRefs(0, 1, 4), /IOCTL_GNTDEV_DMABUF_IMP_TO_REFS: .*CONFIG_XEN_GNTDEV_DMABUF/);
  await assert.rejects(g.mapGrants(1, new Uint32Array([8]), false), /IOCTL_GNTDEV_MAP_GRANT_REF: .*ENOTTY/);
  assert.throws(() => g.importRelease(3), /IOCTL_GNTDEV_DMABUF_IMP_RELEASE/);
  // Only a descriptor this gntdev exported can be released through it: anything else is left alone.
  const other = n.openDevice('/dev/null', false, false);
  assert.throws(() => g.releaseExported(other, 10), /fd \d+ is not a dma-buf this gntdev exported/);
  assert.equal(n.readFd(other, new Uint8Array(1), 0, 1), 0, 'still open: reads end-of-file, not EBADF');
  n.closeDevice(other);
  assert.equal(n.nativeResources().deviceFds, before.deviceFds + 1);
  g.close();
  g.close();
  assert.throws(() => g.probeDmabuf(), /used after close/);
  assert.deepEqual(n.nativeResources(), before);
});

void test('bad arguments are refused before any ioctl', async () => {
  const g = new n.Gntdev('/dev/null');
  try {
    assert.throws(() => g.mapGrants(1, new Uint32Array(0), false), RangeError);
    assert.throws(() => g.exportDmabuf(1, [1, 2] as unknown as Uint32Array, 0), TypeError);
    assert.throws(() => g.importToRefs(0, 1, 0), RangeError);
    assert.throws(() => g.mapGrants(-1, new Uint32Array([1]), false), RangeError);
  } finally {
    g.close();
  }
});

void test('gntalloc and evtchn errors name the ioctl; an empty evtchn read is no ports', () => {
  const before = n.nativeResources();
  const a = new n.Gntalloc('/dev/null');
  assert.throws(
    () => a.alloc(1, 2, true),
    /^Error: \/dev\/null: IOCTL_GNTALLOC_ALLOC_GREF: Inappropriate ioctl for device \(ENOTTY\)$/,
  );
  assert.throws(() => a.alloc(70000, 2, true), RangeError);
  a.close();
  const e = new n.Evtchn('/dev/null');
  assert.throws(() => e.bindInterdomain(1, 5), /IOCTL_EVTCHN_BIND_INTERDOMAIN: .*ENOTTY/);
  assert.throws(() => e.notify(5), /IOCTL_EVTCHN_NOTIFY/);
  assert.equal(e.readPending()?.length, 0);
  e.close();
  e.close();
  assert.deepEqual(n.nativeResources(), before);
});

void test('DRM calls on a non-DRM node fail with the call named', () => {
  const d = new n.DrmDevice('/dev/null');
  try {
    assert.throws(() => d.resources(), /^Error: \/dev\/null: drmModeGetResources: /);
    assert.throws(() => d.createDumb(64, 64, 32), /DRM_IOCTL_MODE_CREATE_DUMB: .*ENOTTY/);
    assert.throws(() => d.addFb2(64, 64, 0x34325258, [1], [256], [0]), /DRM_IOCTL_MODE_ADDFB2/);
    assert.ok(d.getCap(1) < 0, 'unknown capability is a negative errno, not a throw');
    assert.notEqual(d.setClientCap(3, 1), 0, 'atomic not granted');
    assert.deepEqual(d.handleEvents(), []);
  } finally {
    d.close();
  }
  assert.throws(() => d.resources(), /used after close/);
});
