// The one error model: every seam's failure is an ErrnoError, statusOf turns any failure into the
// status a response carries, and only numbers Xen defines go on the wire. Xen's table is checked
// against the installed xen/errno.h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { XEN_EIO, XenErrno } from '../../src/displif/constants.js';
import { PageDirectoryError } from '../../src/displif/page-directory.js';
import { statusOf, xenStatus } from '../../src/displif/status.js';
import { OutputError } from '../../src/drm/output.js';
import { KmsError } from '../../src/drm/kms/errors.js';
import { Errno, ErrnoError, errnoName } from '../../src/util/errno.js';
import { PlatformError } from '../../src/xen/platform.js';

void test("Xen's errno table is xen/errno.h's, and agrees with Linux's wherever both name an errno", () => {
  const header = readFileSync('/usr/include/xen/errno.h', 'utf8');
  const defined = new Map(
    [...header.matchAll(/^XEN_ERRNO\((E[A-Z0-9]+),\s*(\d+)\)/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
  // Aliases (EWOULDBLOCK, EDEADLOCK) share a number with a name the table has.
  for (const alias of ['EWOULDBLOCK', 'EDEADLOCK']) defined.delete(alias);
  assert.deepEqual(Object.fromEntries(Object.entries(XenErrno)), Object.fromEntries(defined));
  for (const [name, n] of Object.entries(Errno)) {
    const xen = (XenErrno as Record<string, number>)[name];
    if (xen !== undefined) assert.equal(xen, n, name);
  }
  assert.equal(errnoName(-22), 'EINVAL');
  assert.equal(errnoName(4095), undefined);
});

void test('every errno-carrying failure is an ErrnoError with a positive errno', () => {
  const all = [
    new PlatformError('map', Errno.EINVAL, 'GNTST_bad_gntref', -4),
    new OutputError('gone', Errno.ENODEV),
    new KmsError('viewport', Errno.EINVAL),
    new PageDirectoryError('loop', XenErrno.EINVAL, 'loop'),
  ];
  for (const e of all) {
    assert.ok(e instanceof ErrnoError, e.name);
    assert.ok(e.errno > 0, e.name);
  }
  assert.equal(new OutputError('x', 19).name, 'OutputError');
  // A number that is no errno does not turn the report into another failure.
  assert.equal(new ErrnoError('x', -5).errno, Errno.EIO);
  assert.equal(new ErrnoError('x', 0).errno, Errno.EIO);
  assert.equal(new ErrnoError('x', 1.5).errno, Errno.EIO);
});

void test('statusOf: the negated errno where Xen defines it, -EIO for everything else', () => {
  assert.equal(statusOf(new PlatformError('map', Errno.EINVAL, 'EINVAL')), -22);
  assert.equal(statusOf(new OutputError('busy', Errno.EBUSY)), -16);
  assert.equal(statusOf(new PageDirectoryError('big', XenErrno.E2BIG, 'bad-count')), -7);
  // Linux errnos Xen has no number for never reach a guest as themselves.
  assert.equal(statusOf(new PlatformError('dma-buf', Errno.ENOTTY, 'ENOTTY')), -XEN_EIO);
  assert.equal(statusOf(new OutputError('fb', Errno.EFBIG)), -XEN_EIO);
  // An error the native addon made (a plain Error with its fields), as the C++ side throws them.
  const native = Object.assign(new Error('/dev/dri/card0: drmModeSetCrtc: Permission denied (EACCES)'), {
    errno: 13,
    code: 'EACCES',
    syscall: 'drmModeSetCrtc',
  });
  assert.equal(statusOf(native), -13);
  // Anything else is a bug or unknown: -EIO, never an exception and never our internals.
  for (const other of [
    new Error('boom'),
    new TypeError('x is undefined'),
    { errno: 22 },
    Object.assign(new Error('fs'), { errno: -2, code: 'ENOENT' }),
    'string',
    undefined,
    null,
  ]) {
    assert.equal(statusOf(other), -XEN_EIO, String(other));
  }
  assert.equal(xenStatus(110), -110);
  assert.equal(xenStatus(-110), -110);
  assert.equal(xenStatus(25), -XEN_EIO);
});
