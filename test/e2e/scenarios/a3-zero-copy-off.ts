// a3. The control for a1 and a2: a1's guest (be-alloc=1, vkms dumb buffers) with the daemon's
// `--zero-copy off`. The picture must be the same, and now the daemon copies every frame it shows:
// copied bytes = frames x frame size. Proves that a1's 0 is measured, not merely unreported.
import type { Scenario } from '../lib/scenario.js';
import { VKMS_CONNECTOR, VKMS_MODE, waitForCrc } from '../lib/vkms.js';
import { daemonAccount, referenceSmpte } from './arm64-steps.js';
import { connectorArgs, createGuest, setArgs, startModetest, waitConnected, type ConnectorSpec } from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', ...VKMS_MODE }];

export const a3ZeroCopyOff: Scenario = {
  id: 'a3-zero-copy-off',
  title: 'control: a1 with --zero-copy off: the same pixels, copied bytes = frames x frame size',
  async run(ctx) {
    const ref = await referenceSmpte(ctx);
    const out = await ctx
      .service()
      .start([...connectorArgs({ id0: VKMS_CONNECTOR }), '--zero-copy', 'off', ...ctx.env.daemonArgs]);
    ctx.daemonStarted = true;
    ctx.check('vdispld --zero-copy off reports READY=1', true, out);
    const { guest, domid } = await createGuest(ctx, CONNECTORS, true);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    const shown = await waitForCrc(ctx.dom0, ref.crc, 120);
    ctx.check(
      "vkms shows exactly the guest's SMPTE bars, copied (CRC equals the native reference)",
      shown.ok,
      `CRC ${shown.last}, reference ${ref.crc}`,
    );
    const acc = await daemonAccount(ctx);
    const frame = VKMS_MODE.width * VKMS_MODE.height * 4;
    const frames = acc.copiedBytes === undefined ? NaN : acc.copiedBytes / frame;
    ctx.figure('copied bytes', acc.copiedBytes ?? 'unknown');
    ctx.figure('frames copied (copied bytes / frame size)', Number.isFinite(frames) ? frames : 'unknown');
    ctx.figure('flips shown (vdispld status)', acc.flipsShown);
    // status says both: whose pages (buffer be-alloc, a1's kind) and that they were copied (path)
    ctx.check(
      "vdispld status: the framebuffer is a1's kind (be-alloc), copied (path copied)",
      acc.connectorPaths.length === 1 && acc.connectorPaths[0] === 'copied' && acc.connectorBuffers[0] === 'be-alloc',
      `paths ${acc.connectorPaths.join(',')}, buffers ${acc.connectorBuffers.join(',')}`,
    );
    ctx.check(
      "the copy reason is the operator's switch",
      Object.keys(acc.fallbacks).every((r) => /disabled by configuration/.test(r)) &&
        Object.keys(acc.fallbacks).length > 0,
      JSON.stringify(acc.fallbacks),
    );
    // every shown frame is one whole copy; the first picture comes with the mode set, which the
    // status counts as a flip or not depending on how the guest set it: shown or shown + 1 copies
    ctx.check(
      'copied bytes = frames x frame size (one whole copy per frame shown)',
      Number.isInteger(frames) && frames >= 1 && (frames === acc.flipsShown || frames === acc.flipsShown + 1),
      `${acc.copiedBytes} bytes = ${frames} x ${frame}; ${acc.flipsShown} flips shown`,
    );
    await guest.killall('modetest');
  },
};
