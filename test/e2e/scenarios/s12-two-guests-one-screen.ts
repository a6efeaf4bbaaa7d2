// 12. Two guests on one screen: a layout puts two guests' connectors side by side on dom0's bochs
// display (no overlay planes there: the CPU composes them into the card's dumb buffers). Each guest
// draws modetest's SMPTE bars at its own size with the real xen-drm-front; dom0's screen is compared
// with the expected composition pixel for pixel (each rectangle exactly its guest's picture, a
// rectangle whose guest is not there the blank grey, everything else black). Then both flip
// (`modetest -v`) and one is destroyed (`xl destroy`): the survivor flips at no less than half the
// rate it had beside the other guest just before, and each of its 60-flip intervals is within two
// frame periods of the mode composed at, no flip event waited for 3 s or more — these two judged
// only where its baseline (flipping alone on the same output earlier in this run) holds that bar
// (QEMU TCG on a loaded host may not: the scenario then ends blocked, not passed); the destroyed guest's rectangle turns blank (docs/OPERATIONS.md: a layout
// entry whose guest is not there is blank), and the daemon holds what it held before the second
// guest came: its status counters, its fds and its gntdev and DRM mappings.
import { hasCommand } from '../lib/daemon.js';
import { checkComposition, describeComposition, type Area } from '../lib/composition.js';
import type { Guest } from '../lib/guest.js';
import { parseConnectedModes, parseFlipRates, type DrmMode } from '../lib/modetest.js';
import type { Pixel } from '../lib/picture.js';
import { sleep, type Ctx, type Scenario } from '../lib/scenario.js';
import { plainAt, smpteAt } from '../lib/smpte.js';
import {
  createGuest,
  DOM0_CONNECTOR,
  modetestErrors,
  startBackend,
  startModetest,
  waitConnected,
  type ConnectorSpec,
} from './steps.js';

interface Placed {
  name: string;
  conn: ConnectorSpec;
  x: number;
  y: number;
}

// Different sizes, so a guest shown in the other's place cannot pass; a gap of black between them.
const LEFT: Placed = { name: 'left', conn: { id: 'id0', width: 640, height: 480 }, x: 0, y: 0 };
const RIGHT: Placed = { name: 'right', conn: { id: 'id0', width: 384, height: 288 }, x: 700, y: 96 };
const LAYOUT = [LEFT, RIGHT]
  .map((p) => `${p.name}/${p.conn.id}@${p.conn.width}x${p.conn.height}+${p.x}+${p.y}`)
  .join(',');

const BLACK: Pixel = [0, 0, 0];
/** A layout entry whose guest is not there (src/drm/compose/blit.ts BLANK_XRGB). */
const BLANK: Pixel = [0x20, 0x20, 0x20];
const FLIP_SECONDS = 15;
/** The longest a flip measurement waits for its modetest reports. */
const REPORT_WAIT_S = 60;

type Shows = 'blank' | 'smpte' | 'smpte-or-plain';

function area(p: Placed, shows: Shows): Area {
  const { width, height } = p.conn;
  const smpte = { name: `SMPTE ${width}x${height}`, at: (x: number, y: number) => smpteAt(x, y, width, height) };
  const pictures =
    shows === 'blank'
      ? [{ name: 'blank', at: () => BLANK }]
      : shows === 'smpte'
        ? [smpte]
        : [smpte, { name: 'plain', at: () => plainAt() }];
  return { name: p.name, x: p.x, y: p.y, width, height, pictures };
}

/** The mode the daemon composes at: the preferred one where the layout fits it, else the smallest that holds it. */
function layoutMode(modes: DrmMode[]): DrmMode | undefined {
  const fits = (m: DrmMode): boolean =>
    [LEFT, RIGHT].every((p) => p.x + p.conn.width <= m.width && p.y + p.conn.height <= m.height);
  const preferred = modes.find((m) => m.preferred) ?? modes[0];
  if (preferred && fits(preferred)) return preferred;
  return modes.filter(fits).sort((a, b) => a.width * a.height - b.width * b.height)[0];
}

/** Screendumps until dom0's screen is the composition asked for, or the time is up; the check says which. */
async function waitForComposition(
  ctx: Ctx,
  name: string,
  mode: DrmMode,
  areas: Area[],
  what: string,
  timeoutS: number,
): Promise<number> {
  const t0 = performance.now();
  let detail = 'no screendump';
  let ok = false;
  let pixels = 0;
  while (!ok && (performance.now() - t0) / 1000 < timeoutS) {
    const c = checkComposition(await ctx.screendump(name), mode, areas, BLACK);
    ok = c.ok;
    pixels = c.pixels;
    detail = describeComposition(c, mode);
    if (!ok) await sleep(1000);
  }
  ctx.check(
    `dom0 screen, pixel for pixel: ${what}`,
    ok,
    `${detail}; after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return ok ? pixels : 0;
}

/** What the daemon holds in dom0: its status counters, open fds and mappings of gntdev and the card. */
async function holdings(ctx: Ctx): Promise<{ line: string; status: Record<string, unknown> | undefined }> {
  const proc = (
    await ctx.dom0.run(
      'pid=$(cat /run/e2e/daemon.pid); echo "fds $(ls /proc/$pid/fd | wc -l) gntdev-maps $(grep -c /dev/xen/gntdev /proc/$pid/maps) dri-maps $(grep -c /dev/dri /proc/$pid/maps)"',
      30,
    )
  ).trim();
  let status: Record<string, unknown> | undefined;
  let res = 'no status';
  if (hasCommand('status')) {
    const r = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js status --json', 120);
    if (r.rc === 0) {
      status = JSON.parse(r.out) as Record<string, unknown>;
      const rs = (status.resources ?? {}) as Record<string, unknown>;
      res = Object.entries(rs)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(' ');
    } else res = `status exit ${r.rc}: ${r.out.trim().slice(0, 200)}`;
  }
  return { line: `${proc}; ${res}`, status };
}

async function bringUp(ctx: Ctx, p: Placed): Promise<{ guest: Guest; domid: number; args: string }> {
  const { guest, domid } = await createGuest(ctx, [p.conn], false, p.name);
  const conn = await waitConnected(ctx, guest, domid, 1);
  const c = conn.connectors[0];
  const crtc = conn.crtcs[0];
  const args = `-s ${c?.id ?? '?'}${crtc !== undefined ? `@${crtc}` : ''}:${p.conn.width}x${p.conn.height}`;
  await startModetest(guest, `mt-${p.name}`, args);
  return { guest, domid, args };
}

/**
 * modetest -v's reports (each the rate of 60 flips) as flips per second over all of them, and the
 * mean interval of each report; the first report is left out where it spans a start or a destroy
 * (and there are more).
 */
function paceOf(rates: readonly number[], skipFirst: boolean): { rate: number; intervals: number[]; text: string } {
  const r = skipFirst && rates.length > 1 ? rates.slice(1) : [...rates];
  const intervals = r.map((hz) => 1000 / hz);
  const rate = intervals.length > 0 ? (1000 * intervals.length) / intervals.reduce((a, b) => a + b, 0) : 0;
  const worst = Math.max(0, ...intervals);
  return {
    rate,
    intervals,
    text: `${r.length} reports, ${rate.toFixed(1)} flips/s, worst 60-flip mean interval ${worst.toFixed(2)} ms`,
  };
}

/**
 * modetest -v's rates in `tag`'s log past the first `from`, once at least `want` more are there
 * (at least FLIP_SECONDS, at most REPORT_WAIT_S: under TCG 60 flips may take many seconds).
 */
async function flipReports(guest: Guest, tag: string, from: number, want: number): Promise<number[]> {
  const t0 = performance.now();
  await sleep(FLIP_SECONDS * 1000);
  let rates = parseFlipRates(await guest.log(tag)).slice(from);
  while (rates.length < want && (performance.now() - t0) / 1000 < REPORT_WAIT_S) {
    await sleep(2000);
    rates = parseFlipRates(await guest.log(tag)).slice(from);
  }
  return rates;
}

async function modetestClean(
  ctx: Ctx,
  guest: Guest,
  tag: string,
  what: string,
  judged: (line: string) => boolean = () => true,
): Promise<void> {
  const errors = modetestErrors(await guest.log(tag)).filter(judged);
  ctx.check(`${what}: modetest reports no error`, errors.length === 0, errors.slice(0, 2).join(' | '));
}

export const twoGuestsOneScreen: Scenario = {
  id: '12-two-guests-one-screen',
  title:
    "two guests side by side on dom0's bochs display through a layout: the composition pixel for pixel; one destroyed while the other flips at the vblank pace; nothing left",
  async run(ctx) {
    // dom0's modes, read before the daemon takes the card: the layout's mode and its frame period.
    const listed = await ctx.dom0.run('modetest -M bochs-drm -c', 60);
    const mode = layoutMode(parseConnectedModes(listed));
    ctx.require('bochs-drm lists a connected connector with a mode that holds the layout', mode !== undefined);
    const frameMs = 1000 / mode!.refresh;
    ctx.figure('mode composed at', `${mode!.width}x${mode!.height} ${mode!.refresh} Hz`);
    ctx.figure('two frame periods (ms)', Number((2 * frameMs).toFixed(2)));

    await startBackend(ctx, {}, ['--layout', `${DOM0_CONNECTOR}=${LAYOUT}`]);
    let pixels = 0;
    pixels += await waitForComposition(
      ctx,
      'no-guest-yet',
      mode!,
      [area(LEFT, 'blank'), area(RIGHT, 'blank')],
      'both rectangles blank grey on black before any guest',
      60,
    );

    const left = await bringUp(ctx, LEFT);
    pixels += await waitForComposition(
      ctx,
      'left-only',
      mode!,
      [area(LEFT, 'smpte'), area(RIGHT, 'blank')],
      "left's 640x480 bars in its rectangle, right's still blank",
      60,
    );
    await modetestClean(ctx, left.guest, 'mt-left', 'left');
    const before = await holdings(ctx);
    ctx.figure('daemon with the left guest alone', before.line);

    // The baseline: left flipping alone on the output, in this run, on this host.
    await left.guest.killall('modetest');
    await startModetest(left.guest, 'flip-left-alone', `-v ${left.args}`);
    const alone = paceOf(await flipReports(left.guest, 'flip-left-alone', 0, 3), true);
    await left.guest.killall('modetest');
    ctx.figure(
      'left flipping alone (baseline): modetest rates (Hz)',
      alone.intervals.map((ms) => (1000 / ms).toFixed(2)).join(' '),
    );
    ctx.figure('left flipping alone (baseline)', alone.text);
    ctx.check('left flips alone (modetest -v reports rates past the first)', alone.intervals.length > 0, alone.text);
    await modetestClean(ctx, left.guest, 'flip-left-alone', 'left flipping alone');
    await startModetest(left.guest, 'mt-left', left.args);

    const right = await bringUp(ctx, RIGHT);
    pixels += await waitForComposition(
      ctx,
      'both',
      mode!,
      [area(LEFT, 'smpte'), area(RIGHT, 'smpte')],
      "each guest's bars exactly in its rectangle, black around them",
      60,
    );
    await modetestClean(ctx, right.guest, 'mt-right', 'right');
    const layouts = (before.status?.layouts ?? []) as { guests?: string[]; planes?: number }[];
    ctx.figure('layout in status with the left guest', JSON.stringify(layouts).slice(0, 300));

    // Both flip; then the right one is destroyed while the left one goes on.
    await left.guest.killall('modetest');
    await right.guest.killall('modetest');
    await startModetest(left.guest, 'flip-left', `-v ${left.args}`);
    await startModetest(right.guest, 'flip-right', `-v ${right.args}`);
    await sleep(FLIP_SECONDS * 1000);
    const ratesBoth = parseFlipRates(await left.guest.log('flip-left'));
    const ratesRight = parseFlipRates(await right.guest.log('flip-right'));
    ctx.figure('left flipping beside right: modetest rates (Hz)', ratesBoth.join(' '));
    ctx.figure('right flipping beside left: modetest rates (Hz)', ratesRight.join(' '));
    ctx.check('both guests flip (modetest -v reports rates)', ratesBoth.length > 0 && ratesRight.length > 0);
    const t0 = performance.now();
    const d = await ctx.dom0.exec('xl destroy right', 90);
    ctx.check(
      'xl destroy right while both flip',
      d.rc === 0,
      `${((performance.now() - t0) / 1000).toFixed(1)} s ${d.out.trim()}`,
    );
    pixels += await waitForComposition(
      ctx,
      'right-destroyed',
      mode!,
      [area(LEFT, 'smpte-or-plain'), area(RIGHT, 'blank')],
      "right's rectangle blank once it is destroyed, left still flipping in its own",
      30,
    );
    const after = await flipReports(left.guest, 'flip-left', ratesBoth.length, 3);
    // modetest -v prints the rate of each 60 flips: their mean interval; the first spans the destroy
    const survivor = paceOf(after, true);
    ctx.figure('left after the destroy: modetest rates (Hz)', after.join(' '));
    ctx.figure(
      'left after the destroy: mean flip interval of each 60 flips (ms)',
      survivor.intervals.map((ms) => ms.toFixed(2)).join(' '),
    );
    ctx.figure('left after the destroy', survivor.text);
    // Judged on any host: a destroy that stalled the daemon or the composition would cut the
    // survivor's rate well below what it had beside the other guest just before (minutes closer
    // than the baseline alone, so the host's load has had less time to change; half leaves room
    // for TCG's swings). Its rate alone is the figure to compare with on a quiet host.
    const beside = paceOf(ratesBoth, true);
    ctx.check(
      'the survivor flips at no less than half its rate beside the other guest just before the destroy',
      survivor.intervals.length >= 1 && beside.rate > 0 && survivor.rate >= beside.rate / 2,
      `after the destroy: ${survivor.text}; beside: ${beside.text}; alone (baseline): ${alone.text}`,
    );
    const bar = 2 * frameMs;
    const baselineHolds = alone.intervals.length > 0 && alone.intervals.every((ms) => ms <= bar);
    const paceName = `the survivor's flips keep the vblank pace: every 60-flip interval within two frame periods (${bar.toFixed(2)} ms)`;
    if (!baselineHolds)
      // QEMU TCG on a loaded host: alone, the guest already misses the bar; a failure here would
      // measure the host, not the daemon (the unit tests hold per-guest flip timing on the fake card).
      ctx.notJudged(
        paceName,
        `its baseline alone misses it too: alone ${alone.text}; after the destroy ${survivor.text}`,
      );
    else
      ctx.check(
        paceName,
        survivor.intervals.length >= 1 && survivor.intervals.every((ms) => ms <= bar),
        `after the destroy: ${survivor.text}; alone: ${alone.text}`,
      );
    // modetest waits 3 s for each flip event: a wait that long is judged with the pace, on a host
    // whose baseline holds the bar; every other error is judged anywhere.
    const flipLog = await left.guest.log('flip-left');
    const waits = flipLog.split('\n').filter((l) => /select timed out/.test(l)).length;
    await modetestClean(
      ctx,
      left.guest,
      'flip-left',
      'left flipping through the destroy',
      (l) => !/select timed out/.test(l),
    );
    const waitName = 'left flipping through the destroy: no flip event waited for 3 s (modetest select timeouts)';
    if (!baselineHolds && waits > 0)
      ctx.notJudged(waitName, `${waits} such waits; its baseline alone misses the pace bar: ${alone.text}`);
    else ctx.check(waitName, waits === 0, `${waits} waits of 3 s`);

    // Back to the left guest's still picture: the daemon must hold what it held before right came.
    await left.guest.killall('modetest');
    await startModetest(left.guest, 'mt-left-again', left.args);
    pixels += await waitForComposition(
      ctx,
      'left-again',
      mode!,
      [area(LEFT, 'smpte'), area(RIGHT, 'blank')],
      "left's bars again, right's rectangle blank",
      60,
    );
    const end = await holdings(ctx);
    ctx.figure('daemon after right was destroyed', end.line);
    ctx.check(
      "nothing of the destroyed guest is left in dom0: the daemon's counters, fds and gntdev/DRM mappings as before it came",
      end.line === before.line && !/status/.test(end.line),
      `before: ${before.line} | after: ${end.line}`,
    );
    const devices = (end.status?.devices ?? []) as { domid: number }[];
    const endLayouts = (end.status?.layouts ?? []) as { guests: string[] }[];
    ctx.check(
      "status: the destroyed guest's device is gone and the layout shows the left guest alone",
      !devices.some((x) => x.domid === right.domid) &&
        devices.some((x) => x.domid === left.domid) &&
        JSON.stringify(endLayouts.map((l) => l.guests)) === JSON.stringify([['left/id0']]),
      `devices ${devices.map((x) => x.domid).join(',')}; layout guests ${JSON.stringify(endLayouts.map((l) => l.guests))}`,
    );
    ctx.figure('pixels compared', pixels);
  },
};
