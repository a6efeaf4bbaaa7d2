// a8. A guest as a window of a compositor in dom0 (`vdispld --output wayland`) on the Arm64 lab's
// real kernel: Debian's Weston 10 runs in dom0 with its DRM backend on vkms and the pixman renderer
// (the image's Weston layer, linked into dom0's root from the lab share), the kiosk shell centring
// each window on its background colour; the guest's xen-drm-front draws SMPTE bars at 640x480 and
// the framebuffer vkms scans out (Weston's composition, read back in dom0) must hold that picture
// pixel for pixel at the window's place and the background everywhere else. Weston 10's own
// screenshot cannot be the judge: it reads its XRGB8888 output as it is and its client writes the
// words as premultiplied ARGB, so every pixel whose unused byte is 0 (all of modetest's XR24 bars)
// comes out transparent black. Then the guest flips as fast as it can (modetest -v) and the flips
// are paced by Weston: the guest's rate against vkms's vblank rate, the daemon's flips shown and
// dropped, bytes copied per flip.
//
// The buffer path is wl_shm (copied): Weston 10 creates zwp_linux_dmabuf_v1 only with its GL
// renderer, and a7 measured that the kernel refuses both CPU reads a software renderer would make of
// a guest's dma-buf. The daemon's own reason for the copy says whether the global was offered.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rgb } from '../lib/picture.js';
import type { Ctx, Scenario } from '../lib/scenario.js';
import { sleep } from '../lib/scenario.js';
import { parseFlipRates } from '../lib/modetest.js';
import { smpteAt } from '../lib/smpte.js';
import { parseCrcLines, VKMS_MODE } from '../lib/vkms.js';
import { HIDDEN_AFTER_MAX_MS, HIDDEN_CYCLES } from '../../../src/drm/wayland/wayland-output.js';
import { crossBuildTool, daemonAccount } from './arm64-steps.js';
import { steadyMean } from './s3-flip.js';
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

/** The daemon's log lines calling the window hidden (one per spell). */
const hiddenSpells = (ctx: Parameters<typeof daemonLog>[0]): string[] =>
  daemonLog(ctx).filter((l) => l.includes('not drawn by the compositor'));

/** A first answer that came too late for the frontend: its buffer creation or modeset timed out. */
const LATE_ANSWER = /failed to create dumb buffer: Connection timed out|Failed to enable display: -110/;

/** Smaller than vkms's 1024x768, so that the window's place on Weston's output is visible. */
const GUEST: ConnectorSpec = { id: 'id0', width: 640, height: 480 };
const LAYER = '/opt/lab/weston';
const RUNTIME = '/run/weston';
const SOCKET = 'wayland-vd';
const FLIP_SECONDS = 20;
/** Weston's own modes of vkms: one head, its preferred mode. */
const OUTPUT = VKMS_MODE;
/** vkms's one connector, as Weston names its head and output. */
const OUTPUT_NAME = 'Virtual-1';
/** Weston's configuration: the output's seat (see startWeston). */
const CONFIG = `${RUNTIME}/weston.ini`;

/** Where kiosk-shell puts a window smaller than the output: centred (integer halves). */
export function centred(out: { width: number; height: number }, win: { width: number; height: number }) {
  return { x: Math.floor((out.width - win.width) / 2), y: Math.floor((out.height - win.height) / 2) };
}

export interface WindowCheck {
  /** Pixels of the window's rectangle that differ from the model. */
  inside: number;
  /** Pixels outside it that differ from the background (the first pixel outside). */
  outside: number;
  background: readonly [number, number, number];
  first?: string;
}

/**
 * Every pixel of the screen: the w x h rectangle at (x, y) against modetest's SMPTE model, and
 * everything else against one uniform background colour (the top-left pixel when it is outside).
 */
export function checkWindow(img: Rgb, at: { x: number; y: number }, w: number, h: number): WindowCheck {
  const px = (x: number, y: number): [number, number, number] => {
    const i = (y * img.width + x) * 3;
    return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
  };
  const bg = at.x > 0 || at.y > 0 ? px(0, 0) : px(img.width - 1, img.height - 1);
  let inside = 0;
  let outside = 0;
  let first: string | undefined;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const got = px(x, y);
      const isIn = x >= at.x && x < at.x + w && y >= at.y && y < at.y + h;
      const want = isIn ? smpteAt(x - at.x, y - at.y, w, h) : bg;
      if (got[0] !== want[0] || got[1] !== want[1] || got[2] !== want[2]) {
        if (isIn) inside++;
        else outside++;
        first ??= `(${x},${y}) want ${want.join(',')} got ${got.join(',')}`;
      }
    }
  }
  return { inside, outside, background: bg, first };
}

/** Links the Weston layer's files into dom0's root where dom0 has none of its own (libraries it has stay). */
const LINK_LAYER = `L=${LAYER}; [ -x $L/usr/bin/weston ] || { echo "no Weston layer in the lab image"; exit 1; }
n=0
link() { local e t; for e in "$1"/*; do t=\${e#$L}
  if [ ! -e "$t" ] && [ ! -L "$t" ]; then ln -s "$e" "$t"; n=$((n+1)); elif [ -d "$e" ] && [ ! -L "$t" ]; then link "$e"; fi
done; }
link $L; echo "linked $n"`;

async function startWeston(ctx: Ctx): Promise<void> {
  const l = await ctx.dom0.exec(LINK_LAYER, 120);
  ctx.require("the image's Weston layer links into dom0", l.rc === 0, l.out.trim().split('\n').at(-1));
  // the DRM backend's launcher: Debian's Weston 10 has logind, weston-launch and the direct one (root
  // on a VT; no libseat), so --tty names a VT of the kernel's dummy console; no input devices here.
  // kiosk-shell puts a new toplevel into its layer only when it gives the window a seat's focus: with
  // no seat the window is never drawn (and never gets a frame callback). A display-only dom0 names
  // the seat of its output in weston.ini, which makes Weston create that seat without devices.
  const ini = `[shell]\\nbackground-color=0xff204060\\n[output]\\nname=${OUTPUT_NAME}\\nseat=seat0\\n`;
  const cmd =
    `mkdir -p ${RUNTIME} && chmod 0700 ${RUNTIME} && export XDG_RUNTIME_DIR=${RUNTIME} && ` +
    `printf '${ini}' > ${CONFIG} && ` +
    `(setsid weston --backend=drm-backend.so --use-pixman --tty=2 --continue-without-input --shell=kiosk-shell.so ` +
    `--socket=${SOCKET} --config=${CONFIG} --debug --idle-time=0 --log=/mnt/share/out/weston.log ` +
    `> /mnt/share/out/weston.out 2>&1 < /dev/null &); ` +
    // (weston may not be running yet at the first look: only after 2 s does its absence end the wait)
    `i=0; while [ ! -S ${RUNTIME}/${SOCKET} ] && [ $i -lt 1200 ]; do [ $i -gt 20 ] && ! pidof weston >/dev/null && break; ` +
    `sleep 0.1; i=$((i+1)); done; ` +
    `echo "after $((i/10)) s"; [ -S ${RUNTIME}/${SOCKET} ] && pidof weston`;
  const r = await ctx.dom0.exec(cmd, 180);
  const log = (await ctx.dom0.exec('cat /mnt/share/out/weston.log /mnt/share/out/weston.out 2>/dev/null', 30)).out;
  ctx.require(
    'Weston runs in dom0 on vkms (DRM backend, pixman) and listens',
    r.rc === 0,
    `${r.out.trim().split('\n')[0]}; ${log.trim().split('\n').slice(-3).join(' | ')}`,
  );
  ctx.mark('weston');
  const mode = /(\d+x\d+@[\d.]+)[^\n]*\bcurrent\b/.exec(log)?.[1];
  ctx.figure("Weston's output mode (its log)", mode ?? 'not in its log');
  const launchers = [...log.matchAll(/Trying (\S+) launcher/g)].map((m) => m[1]);
  ctx.figure("Weston's launcher (the last one it tried, its log)", launchers.at(-1) ?? 'not in its log');
  ctx.figure('Weston started in (s, to its socket)', Number(/after (\d+) s/.exec(r.out)?.[1] ?? NaN));
  ctx.figure("Weston's configuration (its log)", /Using config file '([^']+)'/.exec(log)?.[1] ?? 'not in its log');
}

/**
 * What vkms scans out, Weston's composition as the card holds it: its framebuffer read in dom0 by
 * scanout-dump (XRGB8888 words, the unused byte ignored) and turned into RGB on the host.
 */
async function scanout(ctx: Ctx, tool: string, n: number): Promise<{ img?: Rgb; line: string }> {
  const name = `scanout-${n}.raw`;
  const r = await ctx.dom0.exec(`${tool} /dev/dri/card0 /mnt/share/out/${name}`, 90);
  const line = r.out.trim().split('\n').slice(-1)[0] ?? '';
  const m = /^fb \d+ (\d+)x(\d+) /.exec(line);
  if (r.rc !== 0 || !m) return { line };
  const width = Number(m[1]);
  const height = Number(m[2]);
  const raw = readFileSync(join(ctx.shareDir, 'out', name));
  if (raw.length !== width * height * 4) return { line: `${line}; ${raw.length} bytes` };
  return { img: xrgbToRgb(raw, width, height), line };
}

/** XRGB8888 words (little-endian B, G, R, X) as RGB; the unused byte, whatever it holds, is dropped. */
export function xrgbToRgb(raw: Uint8Array, width: number, height: number): Rgb {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; o < data.length; i += 4, o += 3) {
    data[o] = raw[i + 2]!;
    data[o + 1] = raw[i + 1]!;
    data[o + 2] = raw[i]!;
  }
  return { width, height, data };
}

/** vkms's vblank rate while Weston drives it: frame numbers of its CRC lines over a few seconds. */
async function vblankHz(ctx: Ctx): Promise<number | undefined> {
  const d = '/sys/kernel/debug/dri/0/crtc-0/crc';
  const r = await ctx.dom0.exec(
    `echo auto > ${d}/control && (timeout 6 cat ${d}/data > /tmp/vbl.txt); cat /proc/uptime; cat /tmp/vbl.txt`,
    60,
  );
  const e = parseCrcLines(r.out);
  if (e.length < 3) return undefined;
  // the capture ran for the whole timeout; the first line comes at the first vblank after opening
  return (e.at(-1)!.frame - e[0]!.frame) / 6;
}

export const a8WestonWindow: Scenario = {
  id: 'a8-weston-window',
  title:
    "--output wayland into Weston on vkms in dom0: the guest's picture exact at its window's place (the framebuffer vkms scans out), wl_shm bytes per frame, pacing by Weston",
  async run(ctx) {
    const tool = crossBuildTool(ctx, 'scanout-dump', 'the scan-out reader');
    await startWeston(ctx);
    await startBackend(ctx, { id0: 'wayland' }, ['--output', 'wayland', '--wayland-display', `${RUNTIME}/${SOCKET}`]);
    const { guest, domid } = await createGuest(ctx, [GUEST], false);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, [GUEST]));

    // the picture: what vkms scans out, until the window holds it (the first frames may predate it)
    const at = centred(OUTPUT, GUEST);
    const t0 = performance.now();
    let last: WindowCheck | undefined;
    let size = 'none';
    for (let n = 1; (performance.now() - t0) / 1000 < 180; n++) {
      const { img, line } = await scanout(ctx, tool, n);
      size = line;
      if (img) {
        last =
          img.width === OUTPUT.width && img.height === OUTPUT.height
            ? checkWindow(img, at, GUEST.width, GUEST.height)
            : undefined;
        if (last && last.inside === 0 && last.outside === 0) break;
      }
      await sleep(2000);
    }
    ctx.mark('picture');
    const px = GUEST.width * GUEST.height;
    ctx.check(
      `vkms scans out Weston's composition holding the guest's ${GUEST.width}x${GUEST.height} SMPTE bars pixel for pixel at the window's place (${at.x},${at.y}), a uniform background around it`,
      !!last && last.inside === 0 && last.outside === 0,
      last
        ? `scan-out ${size}; ${px - last.inside} of ${px} window pixels match, ${last.outside} outside differ from ${last.background.join(',')}${last.first ? `; first: ${last.first}` : ''}; after ${((performance.now() - t0) / 1000).toFixed(1)} s`
        : `scan-out ${size}`,
    );
    if (last)
      ctx.figure('pixels checked', `${OUTPUT.width * OUTPUT.height} (the window's ${px} against the SMPTE model)`);
    ctx.figure('background around the window', last ? last.background.join(',') : 'none');
    const errors = modetestErrors(await guest.log('mt'));
    ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));

    const still = await daemonAccount(ctx);
    const path = still.connectorPaths[0] ?? 'none';
    const reasons = Object.keys(still.fallbacks);
    const frame = GUEST.width * GUEST.height * 4;
    ctx.figure('path (vdispld status)', `${path}, buffer ${still.connectorBuffers[0] ?? '-'}`);
    ctx.figure('why copied (vdispld status)', reasons.join('; ') || 'not copied');
    ctx.figure('copied bytes for the still picture', still.copiedBytes ?? 'unknown');
    ctx.check('the window is fed by the copy path (wl_shm): path copied', path === 'copied', path);
    ctx.check(
      'the reason is the compositor: Weston with pixman offers no zwp_linux_dmabuf_v1',
      reasons.length === 1 && /offers no zwp_linux_dmabuf_v1/.test(reasons[0]!),
      reasons.join('; ') || 'none',
    );
    ctx.check(
      'whole frames were copied into wl_shm',
      still.copiedBytes !== undefined && still.copiedBytes >= frame && still.copiedBytes % frame === 0,
      `${still.copiedBytes} bytes, frame ${frame}`,
    );
    await guest.killall('modetest');

    // pacing: the guest flips as fast as its flip events come back
    const before = await daemonAccount(ctx);
    const spellsBefore = hiddenSpells(ctx).length;
    const c = conn.connectors[0];
    const flipArgs = `-v -s ${c?.id ?? '?'}${conn.crtcs[0] !== undefined ? `@${conn.crtcs[0]}` : ''}:${GUEST.width}x${GUEST.height}`;
    await startModetest(guest, 'flip', flipArgs);
    // Each modetest start is a modeset, and each stop one more (the connector disabled): the window
    // is given the new picture (or black) then, a whole frame no flip stands for.
    let modesets = 2;
    await sleep(8000);
    // a first DBUF_CREATE answered after the frontend's 3 s (a loaded host, as in a1, a5 and a9) ends
    // modetest: started once more, reported; any other failure stands
    if (LATE_ANSWER.test(await guest.log('flip'))) {
      ctx.figure("the guest's first buffer answered later than the frontend's 3 s, modetest -v started again", 'yes');
      await guest.killall('modetest');
      await startModetest(guest, 'flip', flipArgs);
      modesets += 2;
    }
    await sleep(FLIP_SECONDS * 1000);
    const vbl = await vblankHz(ctx);
    const after = await daemonAccount(ctx);
    const spellsIn = hiddenSpells(ctx).length - spellsBefore;
    await guest.killall('modetest');
    const rates = parseFlipRates(await guest.log('flip'));
    const hz = steadyMean(rates);
    const shown = after.flipsShown - before.flipsShown;
    const dropped = after.flipsDropped - before.flipsDropped;
    const copied = (after.copiedBytes ?? NaN) - (before.copiedBytes ?? NaN);
    const frames = copied / frame;
    ctx.figure('guest flip rate reports, modetest -v (Hz)', rates.join(' '));
    ctx.figure('guest steady flip rate (Hz)', Number(hz.toFixed(2)));
    ctx.figure('guest flip interval (ms)', hz > 0 ? Number((1000 / hz).toFixed(1)) : 'none');
    ctx.figure("vkms's vblank rate under Weston (Hz, CRC frame counter over 6 s)", vbl ?? 'unknown');
    ctx.figure('flips shown / dropped in the window (vdispld status)', `${shown} / ${dropped}`);
    ctx.figure('bytes copied in the window', `${copied} = ${frames} frames of ${frame}`);
    ctx.figure('bytes copied per flip shown', shown > 0 ? Math.round(copied / shown) : 'none');
    ctx.check("the guest's modetest -v reported flip rates", rates.length > 0, rates.join(' '));
    ctx.check('the daemon showed flips in the window', shown > 0, `${shown} shown`);
    // the guest waits for each flip event, which the window answers on Weston's frame callback: a
    // window Weston stopped drawing would be answered at 10 Hz as dropped instead
    const dropName = "flips answered as shown by Weston's callbacks, not as dropped (a hidden window's)";
    const dropDetail = `${shown} shown, ${dropped} dropped`;
    const interval = hz > 0 ? 1000 / hz : Infinity;
    // The daemon's hidden-window verdicts, from its log: how long Weston left the frame unanswered,
    // the frame cycle it had measured, and how long each spell lasted.
    const log = daemonLog(ctx);
    const spells = hiddenSpells(ctx);
    const field = (l: string, k: string): string => new RegExp(`"${k}":(\\d+)`).exec(l)?.[1] ?? '?';
    ctx.figure(
      'hidden-window spells: frame unanswered (ms) / measured cycle (ms)',
      spells.map((l) => `${field(l, 'unansweredMs')}/${field(l, 'frameCycleMs')}`).join(' ') || 'none',
    );
    ctx.figure(
      'hidden-window spells: length (ms)',
      log
        .filter((l) => l.includes('drawn again after'))
        .map((l) => field(l, 'hiddenMs'))
        .join(' ') || 'none',
    );
    // The daemon waits HIDDEN_CYCLES of Weston's measured cycle (at most HIDDEN_AFTER_MAX_MS) before it
    // calls a window hidden. Where the cycle on this host (the guest's flip interval) is so slow that
    // the cap is under HIDDEN_CYCLES of it, slow frames of a drawn window cross it: the host, not the
    // window, is judged, so the check is recorded as not judged (the scenario cannot pass) unless
    // the window was not drawn at all.
    if (dropped > Math.max(2, shown / 20) && shown > dropped && interval * HIDDEN_CYCLES > HIDDEN_AFTER_MAX_MS)
      ctx.notJudged(
        dropName,
        `Weston's frame cycle here is ${interval.toFixed(0)} ms a flip: ${HIDDEN_CYCLES} of them are over the ${HIDDEN_AFTER_MAX_MS} ms after which the daemon calls a window hidden at the latest; ${dropDetail}`,
      );
    else ctx.check(dropName, dropped <= Math.max(2, shown / 20), dropDetail);
    ctx.check(
      'never faster than Weston shows: the guest flips at most at the vblank rate',
      vbl !== undefined && hz <= vbl * 1.05,
      `guest ${hz.toFixed(2)} Hz, vblank ${vbl ?? '?'} Hz`,
    );
    ctx.check(
      'one whole frame copied per flip shown',
      // A hidden spell copies at most one frame no flip answer stands for: the newest flip, answered
      // as dropped while hidden, is shown when the window is drawn again. So does each modeset (the
      // still picture's end and the flipping one's start). Two more for the edges.
      Number.isInteger(frames) && frames >= shown - 1 && frames <= shown + dropped + spellsIn + modesets + 2,
      `${copied} bytes = ${frames} frames; ${shown} shown, ${dropped} dropped, ${spellsIn} hidden spell(s), ${modesets} modesets`,
    );
    const lines = daemonLog(ctx).filter((l) => reasons.some((r) => l.includes(r)));
    ctx.check('the reason is logged once', lines.length === reasons.length, `${lines.length} line(s)`);
  },
};
