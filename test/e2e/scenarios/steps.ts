// Steps the scenarios share: bring a guest up against the backend, wait for Connected, draw with
// modetest in the guest, and check dom0's screen against what modetest drew.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand } from '../lib/daemon.js';
import type { Guest } from '../lib/guest.js';
import { parseConnectors, parseCrtcs, type DrmConnector } from '../lib/modetest.js';
import { sleep, type Ctx } from '../lib/scenario.js';
import { checkPicture, describeCheck, plainAt, smpteAt, type PatternCheck } from '../lib/smpte.js';
import { backendPath, dumpTree, frontendPath, waitValues, XenbusState } from '../lib/xs.js';

export const GUEST_DRIVER = 'xendrm-du';
/** QEMU's standard VGA as bochs-drm names its only connector in dom0. */
export const DOM0_CONNECTOR = 'Virtual-1';

export interface ConnectorSpec {
  id: string;
  width: number;
  height: number;
}

export function vdisplLine(connectors: ConnectorSpec[], beAlloc = false): string {
  return `backend=0,be-alloc=${beAlloc ? 1 : 0},connectors=${connectors.map((c) => `${c.id}:${c.width}x${c.height}`).join(';')}`;
}

/** The domain name createGuest gives by default: what the scenarios' mappings name. */
export const GUEST_NAME = 'guest';

/**
 * vdispld's connector map: `guest/unique-id=dom0 output name`, once per mapped connector. A key
 * without a guest (`id0`) names a connector of the guest called GUEST_NAME.
 */
export function connectorArgs(map: Record<string, string>): string[] {
  return Object.entries(map).flatMap(([id, out]) => [
    '--connector',
    `${id.includes('/') ? id : `${GUEST_NAME}/${id}`}=${out}`,
  ]);
}

/**
 * Starts the backend before the guest exists, as the unit's ordering does (libxl gives a vdispl backend
 * only 10 s to reach InitWait). Without the daemon, dom0/xenbus-initwait.sh stands in so that
 * everything up to the frontend's Initialised state can still be proven.
 */
export async function startBackend(ctx: Ctx, map: Record<string, string>, extra: string[] = []): Promise<void> {
  if (ctx.env.daemon.ok) {
    const out = await ctx.service().start([...connectorArgs(map), ...extra, ...ctx.env.daemonArgs]);
    ctx.daemonStarted = true;
    ctx.mark('daemon_ready');
    ctx.check('vdispld reports READY=1 before any guest exists', true, out);
  } else {
    await ctx.dom0.run(
      'setsid sh /opt/vdispld/test/e2e/dom0/xenbus-initwait.sh > /mnt/share/out/initwait.log 2>&1 < /dev/null &',
    );
    console.log(`    (no daemon: ${ctx.env.daemon.why}; xenbus-initwait.sh stands in up to InitWait)`);
  }
}

export async function createGuest(
  ctx: Ctx,
  connectors: ConnectorSpec[],
  beAlloc = false,
  name = GUEST_NAME,
  type: 'pv' | 'pvh' = 'pv',
  vkb?: string,
): Promise<{ guest: Guest; domid: number }> {
  const guest = ctx.guest({ name, vdispl: vdisplLine(connectors, beAlloc), type, vkb });
  const r = await guest.create(90);
  ctx.require(
    'xl create succeeds',
    r.rc === 0,
    r.rc === 0 ? `${r.seconds.toFixed(1)} s` : r.out.trim().split('\n').slice(-3).join(' | '),
  );
  ctx.mark('xl_created');
  const domid = await guest.domid();
  return { guest, domid };
}

/** The nodes libxl writes for the vdispl line, exactly as displif.h and docs/PROTOCOL-NOTES.md describe them. */
export async function checkToolstackNodes(
  ctx: Ctx,
  domid: number,
  connectors: ConnectorSpec[],
  beAlloc = false,
): Promise<void> {
  const be = await dumpTree(ctx.dom0, backendPath(domid));
  const fe = await dumpTree(ctx.dom0, frontendPath(domid));
  const bp = backendPath(domid);
  const fp = frontendPath(domid);
  ctx.check(
    'libxl: backend node points at the frontend',
    be.get(`${bp}/frontend`) === fp && be.get(`${bp}/frontend-id`) === String(domid),
    `${be.get(`${bp}/frontend`)} / ${be.get(`${bp}/frontend-id`)}`,
  );
  ctx.check('libxl: backend online', be.get(`${bp}/online`) === '1');
  ctx.check(
    'libxl: frontend points back at the backend',
    fe.get(`${fp}/backend`) === bp && fe.get(`${fp}/backend-id`) === '0',
  );
  ctx.check(
    `libxl: be-alloc = ${beAlloc ? 1 : 0}`,
    fe.get(`${fp}/be-alloc`) === (beAlloc ? '1' : '0'),
    `${fe.get(`${fp}/be-alloc`)}`,
  );
  connectors.forEach((c, i) => {
    ctx.check(
      `libxl: connector ${i} = ${c.id} ${c.width}x${c.height}`,
      fe.get(`${fp}/${i}/unique-id`) === c.id && fe.get(`${fp}/${i}/resolution`) === `${c.width}x${c.height}`,
      `${fe.get(`${fp}/${i}/unique-id`)} ${fe.get(`${fp}/${i}/resolution`)}`,
    );
  });
}

export interface Connected {
  connectors: DrmConnector[];
  crtcs: number[];
}

/**
 * Waits for Connected on both sides and for the guest's DRM card. Without the daemon it proves the
 * frontend got as far as it can (Initialised, rings and event channels published) and then blocks.
 */
export async function waitConnected(
  ctx: Ctx,
  guest: Guest,
  domid: number,
  count: number,
  card = 'card0',
): Promise<Connected> {
  const bp = backendPath(domid);
  const fp = frontendPath(domid);
  await guest.ready(90);
  ctx.mark('guest_agent_ready');
  if (!ctx.env.daemon.ok) {
    const s = await waitValues(ctx.dom0, { [`${fp}/state`]: ['3'], [`${bp}/state`]: ['2'] }, 60);
    ctx.mark('frontend_initialised');
    ctx.check('frontend reaches Initialised (3) with the backend in InitWait (2)', true, `${s.toFixed(2)} s in dom0`);
    const fe = await dumpTree(ctx.dom0, fp);
    for (let i = 0; i < count; i++) {
      const nums = ['req-ring-ref', 'req-event-channel', 'evt-ring-ref', 'evt-event-channel'].map((k) =>
        fe.get(`${fp}/${i}/${k}`),
      );
      ctx.check(
        `frontend published connector ${i}'s rings and event channels`,
        nums.every((v) => v !== undefined && /^\d+$/.test(v)),
        nums.join(' '),
      );
    }
    ctx.blocked(`Connected needs the daemon (${ctx.env.daemon.why})`);
  }
  const s = await waitValues(
    ctx.dom0,
    { [`${bp}/state`]: [String(XenbusState.Connected)], [`${fp}/state`]: [String(XenbusState.Connected)] },
    60,
  );
  ctx.mark('connected');
  ctx.check('backend and frontend both Connected (4)', true, `${s.toFixed(2)} s in dom0`);
  // `card` may be a glob: after the backend went away while a program held the old card open, the
  // kernel gives the new DRM device the next minor (card1)
  const ls = await guest.exec(
    `end=$(( $(date +%s) + 40 )); until ls /dev/dri/${card} >/dev/null 2>&1 || [ $(date +%s) -ge $end ]; do sleep 0.2; done; ls /dev/dri`,
    60,
  );
  ctx.require(
    `guest has /dev/dri/${card}`,
    ls.rc === 0 && new RegExp(`^${card.replace('*', '\\d+')}$`, 'm').test(ls.out),
    ls.out.trim().replace(/\n/g, ' '),
  );
  const c = await guest.exec(`modetest -M ${GUEST_DRIVER} -c`, 30);
  ctx.require(
    `guest's card0 is driven by ${GUEST_DRIVER}`,
    c.rc === 0,
    c.rc === 0 ? '' : c.out.trim().split('\n').slice(-2).join(' | '),
  );
  const connectors = parseConnectors(c.out);
  ctx.check(
    `guest sees ${count} connected connector(s)`,
    connectors.filter((x) => x.status === 'connected').length === count,
    connectors.map((x) => `${x.id}:${x.name}:${x.status}:${x.modes[0] ?? '-'}`).join(' '),
  );
  const p = await guest.exec(`modetest -M ${GUEST_DRIVER} -p`, 30);
  return { connectors, crtcs: parseCrtcs(p.out) };
}

/** `-s` arguments for modetest: connector i on CRTC i (xen-drm-front makes one pipe per connector). */
export function setArgs(conn: Connected, specs: ConnectorSpec[]): string {
  return specs
    .map((s, i) => {
      const c = conn.connectors[i];
      const crtc = conn.crtcs[i];
      return `-s ${c?.id ?? '?'}${crtc !== undefined ? `@${crtc}` : ''}:${s.width}x${s.height}`;
    })
    .join(' ');
}

export type Pattern = 'smpte' | 'plain';

/** modetest keeps its mode while its stdin stays open; `sleep` holds it open until killed. */
export async function startModetest(
  guest: Guest,
  tag: string,
  args: string,
  pattern: Pattern = 'smpte',
): Promise<void> {
  await guest.spawn(tag, `sleep 3600 | modetest -M ${GUEST_DRIVER} -F ${pattern},${pattern} ${args}`);
}

export function waitForSmpte(
  ctx: Ctx,
  name: string,
  width: number,
  height: number,
  timeoutS: number,
): Promise<boolean> {
  return waitForPicture(ctx, name, 'smpte', width, height, timeoutS);
}

/** Takes screendumps until dom0's screen shows modetest's picture of width x height at its origin. */
export async function waitForPicture(
  ctx: Ctx,
  name: string,
  pattern: Pattern,
  width: number,
  height: number,
  timeoutS: number,
): Promise<boolean> {
  const t0 = performance.now();
  let last: PatternCheck | undefined;
  let size = '';
  while ((performance.now() - t0) / 1000 < timeoutS) {
    const img = await ctx.screendump(name);
    size = `${img.width}x${img.height}`;
    last = checkPicture(img, width, height, pattern === 'smpte' ? smpteAt : plainAt);
    if (last.ok) break;
    await sleep(1000);
  }
  const secs = (performance.now() - t0) / 1000;
  return ctx.check(
    `dom0 screen shows the guest's ${width}x${height} ${pattern} picture (${name})`,
    last?.ok ?? false,
    `${last ? describeCheck(last) : 'no screendump'}; screen ${size}; after ${secs.toFixed(1)} s`,
  );
}

/** Lines of the daemon's log (stdout and stderr, as journald would have them). */
export function daemonLog(ctx: Ctx): string[] {
  const p = join(ctx.shareDir, 'out', 'daemon.log');
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n') : [];
}

/**
 * This dom0 cannot export guest buffers as dma-bufs (x86 PV, and Debian's kernel lacks
 * CONFIG_XEN_GNTDEV_DMABUF): the daemon must say at start why, and say once — not per buffer or per
 * frame — that a guest buffer is copied instead, with the reason.
 */
export function checkCopyPathLogged(ctx: Ctx): void {
  const log = daemonLog(ctx);
  const caps = log.map((l) => /dma-?buf export no \(([^)]+)\)/i.exec(l)).find(Boolean);
  ctx.check(
    'daemon states at start why dma-buf export is unavailable',
    caps !== undefined,
    caps?.[1] ?? 'no capability line',
  );
  const fallback = log.filter((l) => /cop(y|ied|ies|ying)/i.test(l) && /instead|fall(s|ing)? ?back/i.test(l));
  ctx.check(
    'daemon logs the copy fallback once, with its reason',
    fallback.length === 1 && /reason|because|: /i.test(fallback[0] ?? ''),
    fallback.length === 0 ? 'no such line' : `${fallback.length} line(s): ${fallback[0]!.slice(0, 300)}`,
  );
}

/** modetest's own complaints, minus the one every xen-drm-front CRTC causes (it has no gamma LUT). */
export function modetestErrors(log: string): string[] {
  return log.split('\n').filter((l) => /failed|error|cannot/i.test(l) && !/failed to set gamma/i.test(l));
}

/**
 * `vdispld status --json` in dom0: its `resources` (live kernel resources of the daemon). With the
 * guest still connected its rings stay mapped, so only buffers and framebuffers must be zero.
 */
export async function checkResourcesIdle(
  ctx: Ctx,
  what: string,
  keys: string[] = ['buffers', 'framebuffers'],
): Promise<void> {
  if (!hasCommand('status')) {
    ctx.figure(`${what}: live-resource counters`, 'not checked: no `vdispld status` in the build yet');
    return;
  }
  let detail = '';
  // a guest's buffers go with its program's exit, a moment after it: a few tries
  for (let i = 0; i < 3; i++) {
    const r = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js status --json', 90);
    if (r.rc !== 0) {
      detail = r.out.trim();
      continue;
    }
    const res = (JSON.parse(r.out) as { resources?: Record<string, unknown> }).resources ?? {};
    detail = keys.map((k) => `${k}=${String(res[k])}`).join(' ');
    if (keys.every((k) => res[k] === 0)) break;
    await sleep(1000);
  }
  ctx.check(
    `${what}: daemon's ${keys.join(' and ')} counters are zero`,
    /=/.test(detail) && keys.every((k) => detail.includes(`${k}=0`)),
    detail,
  );
}
