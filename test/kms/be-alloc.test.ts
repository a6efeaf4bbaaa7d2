// be-alloc on a KMS card: a dumb buffer exported (PRIME) and granted to the guest through gntdev's
// dma-buf import, scanned out from its own handle with no copy; where the platform cannot import,
// gntalloc pages instead, said once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrantedBuffer, XenPlatform } from '../../src/xen/platform.js';
import { PlatformError } from '../../src/xen/platform.js';
import { domId, grantRefsOf, type DomId } from '../../src/util/ids.js';
import type { FramebufferDesc } from '../../src/drm/output.js';
import { mode } from './fake-drm.js';
import { rig, XR24 } from './helpers.js';

function platform(importOk: boolean) {
  const calls: string[] = [];
  let live = 0;
  const p = {
    capabilities: {
      dmabufImport: importOk,
      dmabufExport: false,
      grantAlloc: true,
      maptrackEntriesPerPage: 1,
      summary: '',
    },
    importDmaBuf(fd: number, domid: DomId, pages: number): Promise<GrantedBuffer> {
      calls.push(`import fd ${fd} dom${domid} ${pages} pages`);
      live++;
      let open = true;
      return Promise.resolve({
        domid,
        refs: grantRefsOf(Array.from({ length: pages }, (_, i) => 100 + i)),
        bytes: undefined,
        close: () => {
          if (open) live--;
          open = false;
        },
      });
    },
    allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer> {
      calls.push(`gntalloc dom${domid} ${pages} pages`);
      return Promise.resolve({
        domid,
        refs: grantRefsOf(Array.from({ length: pages }, (_, i) => 200 + i)),
        bytes: new Uint8Array(pages * 4096),
        close() {},
      });
    },
  };
  return { p: p as unknown as XenPlatform, calls, live: () => live };
}

void test('a dumb buffer granted to the guest is scanned out from its own handle, no export, no copy', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const plat = platform(true);
  const size = 640 * 480 * 4;
  const granted = await r.backend.allocateGuestBuffer(plat.p, domId(4), size);
  assert.equal(granted.refs.length, size / 4096, 'one grant per page of the buffer');
  assert.deepEqual(plat.calls, [`import fd 901 dom4 ${size / 4096} pages`]);
  assert.equal(r.dev.dmabufs.size, 0, 'our PRIME fd is closed once gntdev has its own');
  assert.equal(r.backend.resources().dumbBuffers, 1);
  // The guest draws into the pages (here: through our view of them).
  const bytes = granted.bytes!;
  bytes.set([1, 2, 3, 0], (5 * 640 + 6) * 4);
  const fb: FramebufferDesc = {
    id: 9001,
    width: 640,
    height: 480,
    fourcc: XR24,
    pitch: 2560,
    offset: 0,
    buffer: { domid: domId(4), size, bytes: bytes.subarray(0, size) },
  };
  const out = r.backend.output('HDMI-A-1')!;
  await out.setConfig({ fb, x: 0, y: 0, width: 640, height: 480 });
  assert.deepEqual(out.pathOf(fb), { path: 'dma-buf' });
  assert.ok(!r.dev.calls.some((c) => c.startsWith('primeFdToHandle')), 'no import: it is our own buffer');
  assert.deepEqual(r.dev.pixel(40, 6, 5), [1, 2, 3]);
  out.release(fb);
  await out.setConfig(null);
  granted.close();
  granted.close();
  assert.equal(plat.live(), 0, 'IMP_RELEASE done');
  assert.equal(r.dev.liveDumbs, 0);
  assert.equal(r.backend.resources().dumbBuffers, 0);
  await r.backend.close();
});

void test('without dma-buf import the platform allocates (gntalloc), and the log says why once', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const plat = platform(false);
  const a = await r.backend.allocateGuestBuffer(plat.p, domId(4), 10_000);
  await r.backend.allocateGuestBuffer(plat.p, domId(4), 10_000);
  assert.deepEqual(plat.calls, ['gntalloc dom4 3 pages', 'gntalloc dom4 3 pages']);
  assert.equal(a.refs.length, 3);
  assert.equal(r.logs.filter((l) => l.includes('be-alloc buffers come from gntalloc')).length, 1);
  assert.equal(r.dev.liveDumbs, 0);
  await r.backend.close();
});

void test('an import the kernel refuses falls back to gntalloc and frees the dumb buffer', async () => {
  const r = rig({ connectors: [{ name: 'HDMI-A-1', modes: [mode(640, 480, 60, true)] }] });
  const plat = platform(true);
  (plat.p as { importDmaBuf: unknown }).importDmaBuf = () =>
    Promise.reject(new PlatformError('IMP_TO_REFS: EINVAL', 22, 'EINVAL'));
  const g = await r.backend.allocateGuestBuffer(plat.p, domId(4), 8192);
  assert.equal(g.refs[0], 200, 'gntalloc refs');
  assert.equal(r.dev.liveDumbs, 0);
  assert.ok(r.logs.some((l) => l.includes('dumb buffer import refused')));
  await r.backend.close();
});
