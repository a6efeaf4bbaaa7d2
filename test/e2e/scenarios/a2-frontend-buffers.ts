// a2. Frontend-allocated buffers (be-alloc=0) on the real kernel: the daemon exports the guest's
// grants as a dma-buf (IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS), vkms imports it (PRIME) and makes a
// framebuffer of it (ADDFB2); then the commit. On the stock 6.1 kernel vkms refuses that commit:
// it composes every plane through a kernel mapping (vmap) and gntdev's exporter has none, so the
// daemon must fall back to copying that buffer, say why once, and still show the exact picture.
// With the lab-only patch image-arm64/kernel-patches/gntdev-dmabuf-vmap.patch (gntdev's exporter
// gains vmap) the same buffer is scanned out with nothing copied. The scenario reports which.
import type { Scenario } from '../lib/scenario.js';
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

export const a2FrontendBuffers: Scenario = {
  id: 'a2-frontend-buffers',
  title:
    'be-alloc=0: EXP_FROM_REFS, PRIME import, ADDFB2, commit on vkms; shown exactly, the path and copied bytes reported',
  async run(ctx) {
    const patches = await labPatches(ctx);
    const vmapPatch = patches.includes('gntdev-dmabuf-vmap');
    ctx.figure(
      'lab kernel patches',
      patches.length ? patches.join(', ') : 'none (stock 6.1 gntdev: its dma-buf exporter has no vmap)',
    );
    const ref = await referenceSmpte(ctx);
    await startBackend(ctx, { id0: VKMS_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS, false);
    await waitConnected(ctx, guest, domid, 1).then((conn) => startModetest(guest, 'mt', setArgs(conn, CONNECTORS)));
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
    ctx.figure('path that showed the picture', path);
    ctx.figure('copied bytes', acc.copiedBytes ?? 'unknown');
    const reasons = Object.keys(acc.fallbacks);
    ctx.figure(
      'why it was copied (the commit refused, with the errno the kernel gave)',
      reasons.join('; ') || 'not copied',
    );
    const frame = VKMS_MODE.width * VKMS_MODE.height * 4;
    if (path === 'dma-buf') {
      ctx.check(
        'zero-copy: the daemon copied 0 bytes and counted no fallback',
        acc.copiedBytes === 0 && reasons.length === 0,
        `${acc.copiedBytes} bytes; ${JSON.stringify(acc.fallbacks)}`,
      );
    } else {
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
    if (vmapPatch)
      ctx.check('with the vmap patch, vkms scans the guest-grant dma-buf out (zero-copy)', path === 'dma-buf', path);
    await guest.killall('modetest');
  },
};
