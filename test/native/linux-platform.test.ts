// The Linux XenPlatform: capability decisions and their one-line summary, the exact failures a user
// sees without Xen, and the whole platform over stand-in device nodes (a FIFO for evtchn, /dev/null
// for gntdev — both answer every ioctl with ENOTTY, like a kernel without the feature), which must
// reject every operation with the kernel's errno and leave nothing open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { decideCapabilities } from '../../src/xen/linux/capabilities.js';
import { LinuxXenPlatform } from '../../src/xen/linux/platform.js';
import { PlatformError } from '../../src/xen/platform.js';
import { domId, evtchnPort, grantRefsOf } from '../../src/util/ids.js';

void test('capabilities: stock Debian kernel, x86 PV dom0, PVH with everything, no gntalloc', () => {
  const noGntalloc = '/dev/xen/gntalloc: open: No such file or directory (ENOENT)';
  const debian = decideCapabilities({
    guestType: 'PVH',
    dmabufProbe: { exportErrno: 25, importErrno: 25 },
    gntallocError: undefined,
  });
  assert.deepEqual([debian.dmabufExport, debian.dmabufImport, debian.grantAlloc], [false, false, true]);
  assert.equal(
    debian.summary,
    'linux PVH domain: dma-buf export no (kernel without CONFIG_XEN_GNTDEV_DMABUF), dma-buf import no (kernel without ' +
      'CONFIG_XEN_GNTDEV_DMABUF), gntalloc yes; guest buffers are copied',
  );
  const pv = decideCapabilities({
    guestType: 'PV',
    dmabufProbe: { exportErrno: 22, importErrno: 22 },
    gntallocError: noGntalloc,
  });
  assert.deepEqual([pv.dmabufExport, pv.dmabufImport, pv.grantAlloc], [false, false, false]);
  assert.match(
    pv.summary,
    /^linux PV domain: dma-buf export no \(x86 PV domain \(gntdev refuses dma-bufs\)\), .* gntalloc no \(no \/dev\/xen\/gntalloc\); guest buffers are copied; a mapped page takes 2 maptrack entries$/,
  );
  // gntdev maps each page for the process and for the kernel in a PV domain (measured, e2e 11)
  assert.deepEqual([debian.maptrackEntriesPerPage, pv.maptrackEntriesPerPage], [1, 2]);
  const pvh = decideCapabilities({
    guestType: 'PVH',
    dmabufProbe: { exportErrno: 22, importErrno: 22 },
    gntallocError: undefined,
  });
  assert.deepEqual([pvh.dmabufExport, pvh.dmabufImport, pvh.grantAlloc], [true, true, true]);
  assert.equal(pvh.summary, 'linux PVH domain: dma-buf export yes, dma-buf import yes, gntalloc yes');
  const odd = decideCapabilities({
    guestType: 'unknown',
    dmabufProbe: { exportErrno: 1, importErrno: 22 },
    gntallocError: undefined,
  });
  assert.equal(odd.dmabufExport, false);
  assert.equal(odd.maptrackEntriesPerPage, 2, 'unknown counts as PV: too many entries is the safe side');
  assert.match(
    odd.summary,
    /^linux domain of unknown type: dma-buf export no \(gntdev answered errno 1\), dma-buf import yes/,
  );
});

void test(
  'without /dev/xen: open fails with the device, errno and the fix',
  { skip: existsSync('/dev/xen') ? 'this machine has /dev/xen' : false },
  () => {
    assert.throws(
      () => LinuxXenPlatform.open(),
      /^Error: \/dev\/xen\/gntdev: open: No such file or directory \(ENOENT\) — not running in a Xen domain, or the xen-gntdev\/xen-evtchn\/xen-gntalloc modules are not loaded/,
    );
    assert.equal(native().nativeResources().deviceFds, 0);
  },
);

void test('on a kernel that refuses everything, every operation rejects with its errno and nothing leaks', async () => {
  const n = native();
  const before = n.nativeResources();
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-xen-'));
  try {
    symlinkSync('/dev/null', join(dir, 'gntdev'));
    execFileSync('mkfifo', [join(dir, 'evtchn')]);
    const lines: string[] = [];
    const log = { info: (...a: unknown[]) => lines.push(String(a[a.length - 1])), warn() {}, error() {} } as never;
    const p = LinuxXenPlatform.open({ devDir: dir, guestType: 'HVM', log });
    assert.deepEqual(
      [p.capabilities.dmabufExport, p.capabilities.dmabufImport, p.capabilities.grantAlloc],
      [false, false, false],
    );
    assert.ok(
      lines.some((l) => l === `xen platform: ${p.capabilities.summary}`),
      'capabilities logged in one line',
    );
    assert.equal(p.ownDomid, 0);

    const isErr = (errno: number, re: RegExp) => (err: unknown) => {
      assert.ok(err instanceof PlatformError, String(err));
      assert.equal(err.errno, errno);
      assert.match(err.message, re);
      return true;
    };
    await assert.rejects(
      p.mapGrants(domId(3), grantRefsOf([8, 9]), { writable: false }),
      isErr(25, /IOCTL_GNTDEV_MAP_GRANT_REF/),
    );
    await assert.rejects(p.exportDmaBuf(domId(3), grantRefsOf([8])), isErr(25, /CONFIG_XEN_GNTDEV_DMABUF/));
    await assert.rejects(p.allocGranted(domId(3), 4), isErr(19, /gntalloc is not available/));
    await assert.rejects(p.importDmaBuf(0, domId(3), 4), isErr(25, /IMP_TO_REFS/));
    await assert.rejects(
      p.bindEventChannel(domId(3), evtchnPort(7), () => {}),
      isErr(25, /IOCTL_EVTCHN_BIND_INTERDOMAIN/),
    );
    await assert.rejects(p.mapGrants(domId(3), grantRefsOf([]), { writable: false }), isErr(22, /0 grant refs/));
    assert.deepEqual(p.resources(), {
      grantMappings: 0,
      mappedPages: 0,
      exportedDmaBufs: 0,
      grantedBuffers: 0,
      eventChannels: 0,
    });
    await p.close();
    await p.close();
    await assert.rejects(p.mapGrants(domId(3), grantRefsOf([8]), { writable: false }), isErr(5, /platform closed/));
    assert.deepEqual(n.nativeResources(), before, 'every descriptor and poller released');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
