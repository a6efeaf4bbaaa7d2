// a1. Zero-copy with backend-allocated buffers (be-alloc=1) on the real kernel: the daemon allocates
// each buffer the guest asks for as a vkms dumb buffer, grants its pages to the guest with
// IOCTL_GNTDEV_DMABUF_IMP_TO_REFS and scans that same dumb buffer out; the guest's modetest draws
// SMPTE bars straight into it. vkms's CRC of the screen must equal the CRC of the same bars drawn by
// dom0 natively, and the daemon must have copied nothing.
import type { Scenario } from '../lib/scenario.js';
import { VKMS_CONNECTOR, VKMS_MODE, waitForCrc } from '../lib/vkms.js';
import { daemonAccount, referenceSmpte } from './arm64-steps.js';
import {
  checkToolstackNodes,
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

export const a1BeAllocZeroCopy: Scenario = {
  id: 'a1-be-alloc-zero-copy',
  title: 'be-alloc=1: the guest draws into vkms dumb buffers granted with IMP_TO_REFS; shown exactly, 0 bytes copied',
  async run(ctx) {
    const ref = await referenceSmpte(ctx);
    await startBackend(ctx, { id0: VKMS_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS, true);
    await checkToolstackNodes(ctx, domid, CONNECTORS, true);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    const shown = await waitForCrc(ctx.dom0, ref.crc, 120);
    ctx.mark('picture');
    ctx.check(
      "vkms shows exactly the guest's SMPTE bars (its CRC equals dom0's native reference)",
      shown.ok,
      `CRC ${shown.last}, reference ${ref.crc}, after ${shown.seconds.toFixed(1)} s`,
    );
    const log = await guest.run('cat /tmp/mt.log', 60);
    const errors = modetestErrors(log);
    ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));

    const acc = await daemonAccount(ctx);
    ctx.figure('copied bytes', acc.copiedBytes ?? 'unknown');
    ctx.figure('framebuffers by path', JSON.stringify(acc.paths));
    ctx.check(
      'the daemon copied 0 bytes (vdispld status: copiedBytes)',
      acc.copiedBytes === 0,
      acc.copiedBytes === undefined ? acc.raw.slice(0, 200) : `${acc.copiedBytes} bytes`,
    );
    ctx.check(
      "vdispld status: the guest's framebuffer is shown zero-copy from a backend-allocated buffer",
      acc.connectorPaths.length === 1 &&
        acc.connectorPaths[0] === 'dma-buf' &&
        acc.connectorBuffers[0] === 'be-alloc' &&
        (acc.paths['copied'] ?? 0) === 0,
      `paths ${acc.connectorPaths.join(',')}, buffers ${acc.connectorBuffers.join(',')}; ${JSON.stringify(acc.paths)}`,
    );
    ctx.check(
      'no buffer was copied for any reason (vdispld status: copyFallbacks empty)',
      Object.keys(acc.fallbacks).length === 0,
      JSON.stringify(acc.fallbacks),
    );
    const gntalloc = daemonLog(ctx).filter((l) => /be-alloc buffers come from gntalloc/.test(l));
    ctx.check(
      'the daemon allocated from vkms, not gntalloc (no fallback line)',
      gntalloc.length === 0,
      gntalloc[0]?.slice(0, 200) ?? '',
    );
    await guest.killall('modetest');
  },
};
