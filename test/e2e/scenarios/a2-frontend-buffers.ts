// a2 and a6. Frontend-allocated buffers (be-alloc=0) on the real kernel: the daemon exports the
// guest's grants as a dma-buf (IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS), vkms imports it (PRIME) and makes
// a framebuffer of it (ADDFB2); then the commit. vkms composes every plane through a kernel mapping
// of it (dma_buf_vmap), and stock 6.1 gntdev's exporter has no vmap.
// - a2, the lab kernel: its patch image-arm64/kernel-patches/gntdev-dmabuf-vmap.patch gives the
//   exporter vmap, and the guest's own buffer must be scanned out with nothing copied.
// - a6, the stock exporter: the same Image with the patch switched off (xen_gntdev.dmabuf_vmap=N
//   exports with the stock operations, unchanged), so vkms refuses the commit and the daemon must
//   fall back to copying that buffer, say why once, and still show the exact picture.
import type { Ctx, Scenario } from '../lib/scenario.js';
import { VKMS_CONNECTOR, VKMS_MODE, waitForCrc } from '../lib/vkms.js';
import { daemonAccount, labPatches, referenceSmpte } from './arm64-steps.js';
import {
  createGuest,
  daemonLog,
  modetestErrors,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  type ConnectorSpec,
} from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', ...VKMS_MODE }];
const VMAP_PATCH = 'gntdev-dmabuf-vmap';
const VMAP_PARAM = '/sys/module/xen_gntdev/parameters/dmabuf_vmap';

/** Sets the lab patch's switch (when the kernel has the patch) and returns what the exporter offers. */
async function exporter(ctx: Ctx, vmap: boolean): Promise<'vmap' | 'stock'> {
  const patches = await labPatches(ctx);
  ctx.figure('lab kernel patches', patches.length ? patches.join(', ') : 'none (stock 6.1 gntdev)');
  if (!patches.includes(VMAP_PATCH)) {
    ctx.require('the lab kernel carries the vmap patch', !vmap, 'not in /opt/lab/kernel-patches.txt');
    return 'stock';
  }
  const r = await ctx.dom0.exec(`echo ${vmap ? 'Y' : 'N'} > ${VMAP_PARAM} && cat ${VMAP_PARAM}`, 30);
  ctx.require(
    `xen_gntdev.dmabuf_vmap is ${vmap ? 'Y (exports offer vmap)' : 'N (exports as the stock kernel)'}`,
    r.rc === 0 && r.out.trim() === (vmap ? 'Y' : 'N'),
    r.out.trim(),
  );
  return vmap ? 'vmap' : 'stock';
}

async function frontendBuffers(ctx: Ctx, vmap: boolean): Promise<void> {
  const kind = await exporter(ctx, vmap);
  const ref = await referenceSmpte(ctx);
  await startBackend(ctx, { id0: VKMS_CONNECTOR });
  const { guest, domid } = await createGuest(ctx, CONNECTORS, false);
  const conn = await waitConnected(ctx, guest, domid, 1);
  await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
  const shown = await waitForCrc(ctx.dom0, ref.crc, 120);
  ctx.mark('picture');
  ctx.check(
    "vkms shows exactly the guest's SMPTE bars (its CRC equals dom0's native reference)",
    shown.ok,
    `CRC ${shown.last}, reference ${ref.crc}, after ${shown.seconds.toFixed(1)} s`,
  );
  const errors = modetestErrors(await guest.run('cat /tmp/mt.log', 60));
  ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));

  const acc = await daemonAccount(ctx);
  const path = acc.connectorPaths[0] ?? 'none';
  const reasons = Object.keys(acc.fallbacks);
  ctx.figure('path that showed the picture', path);
  ctx.figure('copied bytes', acc.copiedBytes ?? 'unknown');
  ctx.figure('why it was copied', reasons.join('; ') || 'not copied');
  ctx.figure('live kernel resources while shown', JSON.stringify(acc.resources));
  const frame = VKMS_MODE.width * VKMS_MODE.height * 4;
  if (kind === 'vmap') {
    ctx.check(
      'zero-copy: the guest-grant dma-buf is on screen (vdispld status: path dma-buf)',
      path === 'dma-buf',
      path,
    );
    ctx.check(
      'zero-copy: the daemon copied 0 bytes and counted no fallback',
      acc.copiedBytes === 0 && reasons.length === 0,
      `${acc.copiedBytes} bytes; ${JSON.stringify(acc.fallbacks)}`,
    );
    // the picture vkms composed came from the guest's pages: an export and its import are alive
    ctx.check(
      'zero-copy: the export (EXP_FROM_REFS) and its PRIME import are held while shown',
      (acc.resources['exportedDmaBufs'] ?? 0) >= 1 && (acc.resources['dmaBufImports'] ?? 0) >= 1,
      JSON.stringify(acc.resources),
    );
  } else {
    ctx.check('copy: the copy path showed it (vdispld status: path copied)', path === 'copied', path);
    ctx.check(
      'copy: the daemon copied whole frames of the guest buffer',
      acc.copiedBytes !== undefined && acc.copiedBytes >= frame && acc.copiedBytes % frame === 0,
      `${acc.copiedBytes} bytes, frame ${frame}`,
    );
    ctx.check(
      'copy: the reason is the refused commit of the imported buffer',
      reasons.length > 0 && reasons.every((r) => /refused the guest's framebuffer \(E/.test(r)),
      reasons.join('; '),
    );
    const lines = daemonLog(ctx).filter((l) => reasons.some((r) => l.includes(r)));
    ctx.check(
      'copy: each reason is logged once, not per frame',
      lines.length === reasons.length,
      `${lines.length} line(s) for ${reasons.length} reason(s)`,
    );
  }
  await guest.killall('modetest');
}

export const a2FrontendBuffers: Scenario = {
  id: 'a2-frontend-buffers',
  title:
    'be-alloc=0 on the lab kernel: EXP_FROM_REFS, PRIME import, ADDFB2, commit on vkms; shown exactly, 0 bytes copied',
  run: (ctx) => frontendBuffers(ctx, true),
};

export const a6StockExporter: Scenario = {
  id: 'a6-stock-exporter',
  title:
    'be-alloc=0 with the stock exporter (no vmap): vkms refuses the commit, the copy path shows it exactly, the reason once',
  run: (ctx) => frontendBuffers(ctx, false),
};
