// dom0's shared tables: N guests each make buffers until the daemon refuses, trying to map their
// whole per-device page quota and then every page left (smaller and smaller buffers), while a
// good guest flips at 60 frames/s; then a newcomer connects and draws. The daemon is configured
// for as many guests as take part (dom0-guests). Per-device quotas alone let N guests together map more than dom0's grant-mapping
// table (maptrack) holds: the table filled and the next guest could not map even its rings
// (GNTST_no_space). Pass: dom0's mapped pages never exceed the dom0-wide budget (read from
// `vdispld status --json` and from the hypervisor), no guest holds more than its share, the
// hoarders are refused with -ENOMEM/-EAGAIN on their own requests, the newcomer connects and draws,
// the good guest is unaffected, nothing is left afterwards.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StepResult } from '../../../src/sim/frontend/protocol.js';
import type { SimGuest } from '../../../src/sim/host.js';
import type { StatusReport } from '../../../src/ops/status/status-report.js';
import { goodGuestTroubles } from '../lib/guests.js';
import { CampaignResult } from '../lib/result.js';
import { dom0Holdings, startWorld, type World } from '../lib/world.js';
import { closing, goodGuest, judgeGoodGuest } from './common.js';

export interface BudgetCampaignOptions {
  /** Guests trying to map their whole page quota. */
  readonly hoarders: number;
  /** Entries of the simulated dom0's grant-mapping table. */
  readonly maptrackEntries: number;
  /** The daemon's --quota (per-device and dom0-wide), '' for the defaults. */
  readonly quota: string;
  /** The buffer each hoarder makes again and again (XRGB8888). */
  readonly bufferWidth: number;
  readonly bufferHeight: number;
  readonly hoarderRamMiB: number;
  /** Frames the newcomer must show. */
  readonly newcomerFrames: number;
}

/** Xen's defaults and the daemon's: six guests at 49,152 pages want 294,912 of 262,144 entries. */
export const BUDGET_FULL: BudgetCampaignOptions = {
  hoarders: 6,
  maptrackEntries: 262_144,
  // An operator planning for eight display guests: the good guest, six hoarders, the newcomer.
  quota: 'dom0-guests=8',
  bufferWidth: 4095,
  bufferHeight: 2047,
  hoarderRamMiB: 256,
  newcomerFrames: 120,
};
/** The same proportions, a sixteenth of the size. */
export const BUDGET_SHORT: BudgetCampaignOptions = {
  hoarders: 6,
  maptrackEntries: 16_384,
  quota: 'pages=3072,dom0-pages=8192,dom0-guests=8',
  bufferWidth: 1024,
  bufferHeight: 512,
  hoarderRamMiB: 48,
  newcomerFrames: 30,
};

const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

export async function budgetCampaign(o: BudgetCampaignOptions): Promise<CampaignResult> {
  const res = new CampaignResult('budget');
  const w = await startWorld({
    host: { maptrackEntries: o.maptrackEntries },
    ...(o.quota ? { extraArgs: ['--quota', o.quota] } : {}),
  });
  const guests: SimGuest[] = [];
  try {
    const good = await goodGuest(w);
    guests.push(good.guest);
    const t0 = Date.now();
    res.set('dom0 maptrack entries (simulated) / daemon quota', `${o.maptrackEntries} / ${o.quota || 'defaults'}`);
    // The hoarders, one after another, each until the daemon refuses.
    const held: { domid: number; pages: number; refusal: number | undefined }[] = [];
    let peakMapped = 0;
    for (let i = 0; i < o.hoarders; i++) {
      const g = await w.host.createDomain({
        name: `hoarder${i}`,
        ramMiB: o.hoarderRamMiB,
        vdispl: [`connectors=hoard${i}:64x48`],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      guests.push(g);
      const connected = await g
        .waitFor((r) => r.kind === 'connected' || r.kind === 'fatal' || r.kind === 'error', { timeoutMs: 30_000 })
        .catch(() => undefined);
      if (connected?.kind !== 'connected') {
        held.push({ domid: g.domid, pages: 0, refusal: undefined });
        res.check(false, `hoarder ${i} (dom${g.domid}) could not connect: ${JSON.stringify(connected ?? 'timeout')}`);
        continue;
      }
      const r = await hoard(g, o);
      held.push({ domid: g.domid, ...r });
      peakMapped = Math.max(peakMapped, dom0Holdings(w.host).mappedPages);
    }
    res.set(
      'hoarders: buffer pages held (last refusal)',
      held.map((h) => `dom${h.domid} ${h.pages} (${h.refusal ?? 'none'})`).join(', '),
    );
    const status = await daemonStatus(w);
    const b = status?.budget;
    res.check(b !== undefined && b !== null, '`vdispld status --json` has no budget');
    if (b) {
      res.set('budget: mapped pages used / limit (status)', `${b.used.mappedPages} / ${b.limits.mappedPages}`);
      res.set("budget: a guest's share now / refusals", `${b.share.mappedPages} / ${b.refused.mappedPages}`);
      res.set('budget: mapped pages by guest', b.guests.map((g) => `dom${g.domid} ${g.mappedPages}`).join(', '));
      res.check(
        b.used.mappedPages <= b.limits.mappedPages,
        `the guests hold ${b.used.mappedPages} mapped pages, over the budget of ${b.limits.mappedPages}`,
      );
      res.check(
        peakMapped <= b.limits.mappedPages,
        `dom0 mapped ${peakMapped} pages, over the budget of ${b.limits.mappedPages}`,
      );
      // No more guests than planned: nobody above limit / planned.
      const share = Math.floor(b.limits.mappedPages / b.planned);
      const over = b.guests.filter((g) => g.mappedPages > share);
      res.check(over.length === 0, `guests over their share of ${share}: ${JSON.stringify(over)}`);
    }
    res.set(
      'dom0 mapped pages, peak while hoarding (hypervisor)',
      `${peakMapped} of ${o.maptrackEntries} maptrack entries`,
    );
    res.check(
      held.every((h) => h.refusal === undefined || h.refusal === -12 || h.refusal === -11),
      `a hoarder was refused with something else than -ENOMEM/-EAGAIN: ${JSON.stringify(held)}`,
    );
    res.check(
      held.some((h) => h.refusal !== undefined),
      'no hoarder was ever refused: the campaign did not reach a limit',
    );

    // The newcomer: connects and draws.
    const newcomer = await w.host.createDomain({
      name: 'newcomer',
      vdispl: ['connectors=new0:320x240'],
      frontend: { kind: 'display', maxFps: 60 },
      verbose: true,
    });
    guests.push(newcomer);
    const drew = await newcomer
      .waitFor((r) => (r.kind === 'frame' && r.frame >= o.newcomerFrames) || r.kind === 'error' || r.kind === 'fatal', {
        timeoutMs: 60_000,
      })
      .catch(() => undefined);
    const troubles = goodGuestTroubles(newcomer.reports);
    res.set(
      'newcomer',
      drew?.kind === 'frame'
        ? `connected and drew ${o.newcomerFrames} frames`
        : `did not draw: ${JSON.stringify(drew ?? 'timeout')}`,
    );
    res.check(
      drew?.kind === 'frame',
      `the newcomer did not draw ${o.newcomerFrames} frames: ${JSON.stringify(drew ?? 'timeout')} ${JSON.stringify(troubles.slice(0, 2))}`,
    );
    res.check(troubles.length === 0, `the newcomer saw: ${JSON.stringify(troubles.slice(0, 3))}`);
    judgeGoodGuest(res, good, (Date.now() - t0) / 1000);
    await closing(w, res, guests);
  } finally {
    await w.close();
  }
  return res;
}

/**
 * Makes buffers until the daemon refuses one, then smaller ones (half the rows each time, down to
 * one page) until even the smallest is refused: what is left of dom0's table after this guest is
 * what the daemon kept for others. Returns the pages held and the last refusal.
 */
async function hoard(g: SimGuest, o: BudgetCampaignOptions): Promise<{ pages: number; refusal: number | undefined }> {
  let pages = 0;
  let refusal: number | undefined;
  let k = 0;
  for (let rows = o.bufferHeight; rows >= 1; rows = Math.floor(rows / 2)) {
    const size = Math.ceil((o.bufferWidth * rows * 4) / 4096);
    for (;;) {
      const [r] = (await g.run([{ op: 'dumb-create', name: `b${k++}`, width: o.bufferWidth, height: rows, bpp: 32 }], {
        timeoutMs: 30_000,
      })) as StepResult[];
      if (!r || r.status !== 0) {
        refusal = r?.status;
        break;
      }
      pages += size;
    }
  }
  return { pages, refusal };
}

/** `vdispld status --json` against the campaign's daemon, as an operator would run it. */
function daemonStatus(w: World): Promise<StatusReport | undefined> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, 'status', '--socket', w.daemon.controlSocket, '--json'],
      { timeout: 60_000 },
      (err, stdout) => {
        if (err) return resolve(undefined);
        try {
          resolve(JSON.parse(stdout) as StatusReport);
        } catch {
          resolve(undefined);
        }
      },
    );
  });
}
