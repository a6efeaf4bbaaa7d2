// a9. Two guests side by side on one vkms output, each on an overlay plane of its own (issue #19 in
// the Arm64 lab). dom0's kernel gets vkms.enable_overlay=1 (vkms is built into the lab kernel, so a
// kernel parameter, not a module option): eight overlay planes above the primary, which in 6.1 may be
// placed anywhere (not scaled). The layout puts each guest's 512x768 connector 1:1 in one half of
// the 1024x768 screen, so the daemon can scan each guest's own buffer out on an overlay plane and
// compose nothing. The reference is dom0's own drawing of the same picture natively: modetest with
// SMPTE bars on the primary and on two overlay planes at the same places; vkms's CRC must be equal.
import type { Ctx, Scenario } from '../lib/scenario.js';
import { sleep } from '../lib/scenario.js';
import { parseConnectors, parseCrtcs } from '../lib/modetest.js';
import { readCrcs, stableCrc, VKMS_CONNECTOR, VKMS_MODE, waitForCrc } from '../lib/vkms.js';
import { daemonAccount } from './arm64-steps.js';
import {
  createGuest,
  modetestErrors,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  type ConnectorSpec,
} from './steps.js';

const HALF: ConnectorSpec = { id: 'id0', width: VKMS_MODE.width / 2, height: VKMS_MODE.height };
const NAMES = ['left', 'right'] as const;
const LAYOUT = `${VKMS_CONNECTOR}=${NAMES.map((n, i) => `${n}/id0@${HALF.width}x${HALF.height}+${i * HALF.width}+0`).join(',')}`;

/** Plane ids of `modetest -p` with their type (0 overlay, 1 primary, 2 cursor: the `type` property's value). */
export function parsePlanes(out: string): { id: number; type: number }[] {
  const start = out.indexOf('Planes:');
  if (start < 0) return [];
  const blocks = out
    .slice(start)
    .split(/\n(?=\d+\t\d+\t\d+\t)/)
    .slice(1);
  return blocks.map((b) => ({
    id: Number(/^(\d+)/.exec(b)![1]),
    type: Number(/\btype:[\s\S]*?value:\s*(\d+)/.exec(b)?.[1] ?? -1),
  }));
}

interface LayoutStatus {
  output: string;
  guests: string[];
  planes: number;
  framesShown: number;
  bytesComposed: number;
}

function layoutOf(raw: string): LayoutStatus | undefined {
  try {
    return (JSON.parse(raw) as { layouts?: LayoutStatus[] }).layouts?.find((l) => l.output === VKMS_CONNECTOR);
  } catch {
    return undefined;
  }
}

/** dom0 draws the expected screen natively: SMPTE on the primary and on two overlays, one per half. */
async function reference(ctx: Ctx): Promise<string> {
  const conn = parseConnectors(await ctx.dom0.run('modetest -M vkms -c', 60)).find((c) => c.name === VKMS_CONNECTOR);
  const p = await ctx.dom0.run('modetest -M vkms -p', 60);
  const crtc = parseCrtcs(p)[0];
  const planes = parsePlanes(p);
  const overlays = planes.filter((x) => x.type === 0).map((x) => x.id);
  ctx.figure(
    'vkms planes (modetest -p)',
    planes.map((x) => `${x.id}:${['overlay', 'primary', 'cursor'][x.type] ?? '?'}`).join(' '),
  );
  ctx.require(
    'vkms has overlay planes (vkms.enable_overlay=1 on dom0 kernel command line)',
    conn !== undefined && crtc !== undefined && overlays.length >= 2,
    `${overlays.length} overlay planes`,
  );
  const { width, height } = VKMS_MODE;
  const P = overlays
    .slice(0, 2)
    .map((id, i) => `-P ${id}@${crtc}:${HALF.width}x${HALF.height}+${i * HALF.width}+0`)
    .join(' ');
  await ctx.dom0.run(
    `(sleep 3600 | modetest -M vkms -s ${conn!.id}@${crtc}:${width}x${height} ${P} -F smpte,smpte ` +
      `> /mnt/share/out/dom0-modetest-reference.log 2>&1 &) ; sleep 2`,
    60,
  );
  let crc: string | undefined;
  for (let i = 0; i < 8 && crc === undefined; i++) crc = stableCrc(await readCrcs(ctx.dom0, 5));
  await ctx.dom0.run(
    'killall modetest; i=0; while pidof modetest >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ! pidof modetest >/dev/null',
    30,
  );
  ctx.require('the native two-overlay reference has a stable vkms CRC', crc !== undefined, crc ?? 'unstable');
  ctx.figure('reference CRC (dom0: SMPTE 512x768 on two overlays, side by side)', crc!);
  ctx.mark('reference');
  return crc!;
}

export const a9OverlayPlanes: Scenario = {
  id: 'a9-overlay-planes',
  title:
    'two guests side by side on vkms, 1:1 on overlay planes (vkms.enable_overlay=1): planes used, 0 bytes composed, CRC exact',
  dom0Args: ['vkms.enable_overlay=1'],
  async run(ctx) {
    const ref = await reference(ctx);
    await startBackend(ctx, {}, ['--layout', LAYOUT]);
    const guests = [];
    for (const name of NAMES) {
      const { guest, domid } = await createGuest(ctx, [HALF], false, name);
      const conn = await waitConnected(ctx, guest, domid, 1);
      await startModetest(guest, 'mt', setArgs(conn, [HALF]));
      ctx.mark(`${name}_drawing`);
      guests.push(guest);
    }
    let shown = await waitForCrc(ctx.dom0, ref, 120);
    // a first DBUF_CREATE answered after the frontend's 3 s (as in a1 and a5 on a loaded host) ends that
    // guest's modetest: started once more, reported; any other failure stands
    const late = /failed to create dumb buffer: Connection timed out|Failed to enable display: -110/;
    for (const [i, g] of guests.entries()) {
      if (shown.ok || !late.test(await g.log('mt'))) continue;
      ctx.figure(`guest ${NAMES[i]}: first answer later than the frontend's 3 s, modetest started again`, 'yes');
      await g.killall('modetest');
      const conn = await waitConnected(ctx, g, await g.domid(), 1);
      await startModetest(g, 'mt', setArgs(conn, [HALF]));
      shown = await waitForCrc(ctx.dom0, ref, 120);
    }
    ctx.mark('picture');
    ctx.check(
      "vkms shows both guests' SMPTE bars side by side exactly (CRC equals dom0's native overlay reference)",
      shown.ok,
      `CRC ${shown.last}, reference ${ref}, after ${shown.seconds.toFixed(1)} s`,
    );
    const a = await daemonAccount(ctx);
    await sleep(5000);
    const b = await daemonAccount(ctx);
    const la = layoutOf(a.raw);
    const lb = layoutOf(b.raw);
    ctx.figure('layout (vdispld status)', lb ? `${lb.guests.join(', ')}: ${lb.planes} planes` : a.raw.slice(0, 200));
    ctx.figure('paths (vdispld status)', b.connectorPaths.join(', '));
    ctx.figure('bytes composed, total', lb?.bytesComposed ?? 'unknown');
    ctx.figure('frames shown between the two status reads', lb && la ? lb.framesShown - la.framesShown : 'unknown');
    ctx.check(
      'both guests on overlay planes: the output uses 3 planes (primary and two overlays)',
      lb?.planes === 3 && lb.guests.length === 2,
      lb ? `${lb.planes} planes, guests ${lb.guests.join(', ')}` : 'no layout in status',
    );
    ctx.check(
      'nothing composed by the CPU while both are on planes',
      !!la && !!lb && lb.bytesComposed === la.bytesComposed,
      la && lb ? `${la.bytesComposed} -> ${lb.bytesComposed} bytes` : 'no layout in status',
    );
    ctx.check(
      "each guest's own buffer is scanned out (path dma-buf), 0 bytes copied",
      b.connectorPaths.length === 2 && b.connectorPaths.every((p) => p === 'dma-buf') && b.copiedBytes === 0,
      `${b.connectorPaths.join(', ')}; ${b.copiedBytes} bytes copied`,
    );
    for (const [i, g] of guests.entries()) {
      const errors = modetestErrors(await g.log('mt'));
      ctx.check(`guest ${NAMES[i]}: modetest reports no error`, errors.length === 0, errors.slice(0, 2).join(' | '));
    }
  },
};
