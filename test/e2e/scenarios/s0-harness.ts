// 0. The harness proves itself: Xen and dom0 are what we think, the host's node and the native addon
// run in dom0, and a picture drawn straight on dom0's bochs display comes back through QMP screendump
// exactly as the SMPTE model says — so a later failure to see the guest's picture is not the harness.
import { parseConnectors } from '../lib/modetest.js';
import type { Scenario } from '../lib/scenario.js';
import { DOM0_CONNECTOR, waitForSmpte } from './steps.js';

export const harness: Scenario = {
  id: '0-harness',
  title: 'harness self-check: Xen, dom0 tools, node + addon in dom0, screendump of a known picture',
  async run(ctx) {
    const info = await ctx.dom0.run('xl info', 30);
    ctx.check('xl info: Xen 4.17', /xen_version\s*:\s*4\.17/.test(info), /xen_version.*$/m.exec(info)?.[0] ?? '');
    const caps = await ctx.dom0.run('cat /proc/xen/capabilities');
    ctx.check('dom0 is the control domain', caps.trim() === 'control_d', caps.trim());
    const devs = await ctx.dom0.run('ls /dev/xen');
    ctx.check(
      'dom0 has /dev/xen/{evtchn,gntdev,gntalloc,privcmd,xenbus}',
      ['evtchn', 'gntdev', 'gntalloc', 'privcmd', 'xenbus'].every((d) => devs.includes(d)),
      devs.replace(/\n/g, ' '),
    );
    const xs = await ctx.dom0.exec('test -S /run/xenstored/socket && xenstore-read /local/domain/0/name');
    ctx.check('xenstored socket at /run/xenstored/socket', xs.rc === 0, xs.out.trim());
    const v = await ctx.dom0.exec('/opt/node/bin/node -p process.version', 60);
    ctx.check(
      "the host's node runs in dom0",
      v.rc === 0 && v.out.trim() === process.version,
      `${v.out.trim()} (host ${process.version}), ${v.seconds.toFixed(1)} s`,
    );
    ctx.figure('node start in dom0, first (s)', Number(v.seconds.toFixed(1)));
    const v2 = await ctx.dom0.exec('/opt/node/bin/node -p process.version', 60);
    ctx.figure('node start in dom0, again (s)', Number(v2.seconds.toFixed(1)));
    const sc = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js selfcheck', 90);
    ctx.check(
      'vdispld selfcheck in dom0 (native addon loads: same glibc)',
      sc.rc === 0 && /native addon: ok/.test(sc.out),
      sc.out.trim().split('\n')[0] ?? '',
    );
    ctx.figure('vdispld selfcheck in dom0 (s)', Number(sc.seconds.toFixed(1)));

    const c = await ctx.dom0.run('modetest -M bochs-drm -c', 30);
    const conn = parseConnectors(c).find((x) => x.name === DOM0_CONNECTOR);
    ctx.require(
      `dom0 display: bochs-drm connector ${DOM0_CONNECTOR} connected`,
      conn?.status === 'connected',
      conn ? `${conn.id} ${conn.status}` : c.slice(0, 200),
    );
    await ctx.dom0.run(
      `(sleep 3600 | modetest -M bochs-drm -s ${conn!.id}:1024x768 > /mnt/share/out/dom0-modetest.log 2>&1 &)`,
    );
    await waitForSmpte(ctx, 'dom0-modetest', 1024, 768, 30);
    await ctx.dom0.run('pkill -x modetest; pkill -f "sleep 3600"; true');
  },
};
