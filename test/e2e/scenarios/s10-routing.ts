// 10. Routing: a guest cannot choose dom0's output. The operator maps dom0's bochs output
// (Virtual-1) to the connector victim0 of the domain "victim". Before the victim exists, another
// guest, from inside, unbinds its own xen-drm-front, removes its connector directory (the
// directory is the guest's, though libxl wrote its nodes read-only), writes unique-id = Virtual-1,
// and binds the driver again. It must get a headless output of its own, never dom0's screen; the
// victim, started afterwards, must get Virtual-1.
import { pixel, type Rgb } from '../lib/picture.js';
import { sleep, type Ctx, type Scenario } from '../lib/scenario.js';
import { frontendPath } from '../lib/xs.js';
import type { Guest } from '../lib/guest.js';
import {
  createGuest,
  daemonLog,
  DOM0_CONNECTOR,
  modetestErrors,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  waitForSmpte,
  type Connected,
  type ConnectorSpec,
} from './steps.js';

const ATTACKER: ConnectorSpec[] = [{ id: 'a0', width: 800, height: 600 }];
const VICTIM: ConnectorSpec[] = [{ id: 'victim0', width: 800, height: 600 }];

/**
 * The daemon's line saying which outputs a domain's connectors got at its `n`th connection (the
 * log reaches the share a moment after Connected): waits up to 20 s, then returns what there is.
 */
async function routedTo(ctx: Ctx, name: string, n: number): Promise<string> {
  let lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    lines = daemonLog(ctx).filter(
      (l) => l.includes(`"${name}": connector `) || l.includes(`\\"${name}\\": connector `),
    );
    if (lines.length >= n) break;
    await sleep(500);
  }
  return lines[n - 1] ?? `no line for connection ${n} (${lines.length} seen)`;
}

/** How much of dom0's 800x600 screen shows modetest's plain grey (0x77): the attacker's picture. */
function greyShare(img: Rgb): { share: number; text: string } {
  let grey = 0;
  let all = 0;
  for (let y = 1; y < Math.min(600, img.height); y += 8) {
    for (let x = 1; x < Math.min(800, img.width); x += 8) {
      const [r, g, b] = pixel(img, x, y);
      all++;
      if (r === 0x77 && g === 0x77 && b === 0x77) grey++;
    }
  }
  return {
    share: all ? grey / all : 1,
    text: `${grey} of ${all} sample points are the attacker's grey; screen ${img.width}x${img.height}`,
  };
}

/** Runs modetest's plain picture on the attacker's connector; true when it runs without error. */
async function attackerDraws(ctx: Ctx, guest: Guest, conn: Connected, tag: string): Promise<boolean> {
  await startModetest(guest, tag, setArgs(conn, ATTACKER), 'plain');
  await sleep(8000);
  const errors = modetestErrors(await guest.log(tag));
  return ctx.check(
    `the attacker's modetest runs: it is served, on its own output (${tag})`,
    errors.length === 0,
    errors.slice(0, 2).join(' | '),
  );
}

export const routing: Scenario = {
  id: '10-routing',
  title:
    "routing: a guest that rewrites its unique-id to dom0's output name (Virtual-1) gets its own headless output, not dom0's screen",
  async run(ctx) {
    await startBackend(ctx, { 'victim/victim0': DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, ATTACKER, false, 'attacker');
    const before = await waitConnected(ctx, guest, domid, 1);
    const first = await routedTo(ctx, 'attacker', 1);
    ctx.check(
      'the attacker first gets a headless output of its own (no mapping names it)',
      first.includes(`on dom${domid}.0.a0`),
      first.slice(0, 300),
    );

    await attackerDraws(ctx, guest, before, 'mt-before');
    const g0 = greyShare(await ctx.screendump('attacker-before'));
    ctx.check("dom0's screen does not show the attacker's picture (before the attack)", g0.share < 0.01, g0.text);
    await guest.killall('modetest');

    // A direct write is refused (libxl made the node read-only for the guest) ...
    const direct = await guest.exec('xenstore-write device/vdispl/0/0/unique-id Virtual-1', 30);
    ctx.figure(
      'guest: direct xenstore-write of its unique-id',
      direct.rc === 0 ? 'accepted' : `refused (${direct.out.trim().slice(0, 80)})`,
    );
    // ... but the guest owns the directory: unbind the driver, remove it, write it again, bind.
    // One line: the guest agent reads the command with xenstore-read, which escapes newlines.
    const attack = await guest.exec(
      [
        'drv=$(readlink -f /sys/bus/xen/devices/vdispl-0/driver)',
        'echo vdispl-0 > "$drv/unbind"',
        'xenstore-rm device/vdispl/0/0',
        `xenstore-write device/vdispl/0/0/unique-id ${DOM0_CONNECTOR} device/vdispl/0/0/resolution 800x600`,
        'echo "unique-id now: $(xenstore-read device/vdispl/0/0/unique-id)"',
        'echo vdispl-0 > "$drv/bind"',
      ].join(' && '),
      90,
    );
    ctx.require(
      'the guest unbound its driver, rewrote its connector with unique-id Virtual-1 and bound the driver again',
      attack.rc === 0 && attack.out.includes(`unique-id now: ${DOM0_CONNECTOR}`),
      attack.out.trim().split('\n').slice(-3).join(' | '),
    );
    const fe = await ctx.dom0.run(`xenstore-read ${frontendPath(domid)}/0/unique-id`, 20);
    ctx.check("dom0 reads the guest's rewritten unique-id", fe.trim() === DOM0_CONNECTOR, fe.trim());

    const conn = await waitConnected(ctx, guest, domid, 1, 'card*');
    ctx.mark('attacker_reconnected');
    const line = await routedTo(ctx, 'attacker', 2);
    ctx.check(
      `the daemon put the rewritten connector on a headless output of the attacker's own, not ${DOM0_CONNECTOR}`,
      line.includes(`on dom${domid}.0.${DOM0_CONNECTOR}`) && !line.includes(`on ${DOM0_CONNECTOR}`),
      line.slice(0, 300),
    );
    await attackerDraws(ctx, guest, conn, 'mt-attacker');
    const g1 = greyShare(await ctx.screendump('attacker-drawing'));
    ctx.check("dom0's screen does not show the attacker's picture", g1.share < 0.01, g1.text);

    // The operator's victim comes up now: Virtual-1 is its, and the attacker is still not on it.
    const v = await createGuest(ctx, VICTIM, false, 'victim');
    const vconn = await waitConnected(ctx, v.guest, v.domid, 1);
    const vline = await routedTo(ctx, 'victim', 1);
    ctx.check(
      `the victim's victim0 is on ${DOM0_CONNECTOR}`,
      vline.includes(`on ${DOM0_CONNECTOR}`),
      vline.slice(0, 300),
    );
    await startModetest(v.guest, 'mt-victim', setArgs(vconn, VICTIM));
    await waitForSmpte(ctx, 'victim-on-bochs', 800, 600, 60);
    const g2 = greyShare(await ctx.screendump('both-drawing'));
    ctx.check(
      "dom0's screen still does not show the attacker's picture with both guests drawing",
      g2.share < 0.01,
      g2.text,
    );
  },
};
