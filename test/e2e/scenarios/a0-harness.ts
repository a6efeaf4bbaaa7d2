// a0. The Arm64 lab itself: Xen and dom0 on the lab kernel, the Xen tools, Node.js and the addon for
// arm64 in dom0, vkms as the display with its CRCs as the capture path, proven on pictures dom0 draws
// itself: the same picture gives the same CRC every time, another picture another CRC.
import type { Scenario } from '../lib/scenario.js';
import { nativeCrc, vkmsPipe } from '../lib/vkms.js';
import { startBackend } from './steps.js';
import { capabilityLine, checkKernel } from './arm64-steps.js';

export const a0Harness: Scenario = {
  id: 'a0-harness',
  title: 'Arm64 lab: Xen, dom0 tools, node and addon for arm64, vkms and its CRC capture on pictures dom0 draws',
  async run(ctx) {
    await checkKernel(ctx);
    const node = await ctx.dom0.exec('/opt/node/bin/node -p "process.arch + \' \' + process.version"', 120);
    ctx.require('Node.js for arm64 runs in dom0', node.rc === 0 && /^arm64 v20\./m.test(node.out), node.out.trim());
    const outputs = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js outputs --json', 180);
    ctx.require(
      'vdispld outputs --json (the arm64 addon, DRM) lists vkms',
      outputs.rc === 0 && /"driver":\s*"vkms"/.test(outputs.out),
      outputs.out.trim().slice(0, 300),
    );
    ctx.mark('node_addon');

    const pipe = await vkmsPipe(ctx.dom0);
    const a = await nativeCrc(ctx.dom0, pipe, 'smpte', 'smpte-1');
    const b = await nativeCrc(ctx.dom0, pipe, 'plain', 'plain');
    const c = await nativeCrc(ctx.dom0, pipe, 'smpte', 'smpte-2');
    ctx.mark('crcs');
    ctx.figure('vkms CRC of dom0-drawn SMPTE 1024x768', a ?? 'unstable');
    ctx.figure('vkms CRC of dom0-drawn plain 1024x768', b ?? 'unstable');
    ctx.check(
      'a picture dom0 draws gives a stable CRC',
      a !== undefined && b !== undefined && c !== undefined,
      `${a} ${b} ${c}`,
    );
    ctx.check('the same picture drawn again gives the same CRC', a !== undefined && a === c, `${a} / ${c}`);
    ctx.check('another picture gives another CRC', a !== undefined && b !== undefined && a !== b, `${a} / ${b}`);

    // the daemon starts in this dom0 and finds gntdev's dma-buf ioctls usable
    await startBackend(ctx, {});
    const caps = capabilityLine(ctx);
    ctx.check(
      'the daemon finds dma-buf export and import usable on the lab kernel',
      /dma-buf export yes, dma-buf import yes/.test(caps),
      caps,
    );
  },
};
