// Soak: four guests with eight connectors flipping at 60 frames/s for a long time (an hour in
// full), the daemon's RSS, open descriptors and dom0's live mappings sampled at a fixed interval.
// Pass: every flip released by its event in time, descriptors and mappings flat, RSS growth over
// the second half below a bound, nothing left after the guests are destroyed.
import type { SimGuest } from '../../../src/sim/host.js';
import { flipFigures, goodGuestTroubles } from '../lib/guests.js';
import { CampaignResult } from '../lib/result.js';
import { dom0Holdings, sleep, startWorld } from '../lib/world.js';
import { closing, FLIP_DEADLINE_MS } from './common.js';

export interface SoakOptions {
  readonly minutes: number;
  readonly sampleEverySeconds: number;
  /** RSS may grow at most this much (MiB) between the middle and the end of the run. */
  readonly maxSecondHalfRssGrowthMiB: number;
  readonly log?: (line: string) => void;
  /** Measure the daemon (event-loop lag, CPU profile) into this directory. */
  readonly probeDir?: string;
}

export const SOAK_FULL: SoakOptions = { minutes: 60, sampleEverySeconds: 60, maxSecondHalfRssGrowthMiB: 16 };
export const SOAK_SHORT: SoakOptions = { minutes: 0.25, sampleEverySeconds: 3, maxSecondHalfRssGrowthMiB: 32 };

interface Sample {
  readonly t: number;
  readonly rssMiB: number;
  readonly fds: number;
  readonly mappings: number;
  readonly mappedPages: number;
}

export async function soakCampaign(o: SoakOptions): Promise<CampaignResult> {
  const res = new CampaignResult('soak');
  const w = await startWorld(o.probeDir ? { probeDir: o.probeDir } : {});
  try {
    const guests: SimGuest[] = [];
    for (let i = 0; i < 4; i++) {
      // Eight connectors: two per guest; one guest in be-alloc mode, one with RGB565 and YUYV.
      const be = i === 1 ? 'be-alloc=1,' : '';
      guests.push(
        await w.host.createDomain({
          vdispl: [`${be}connectors=s${i}a:320x240;s${i}b:256x192`],
          frontend: { kind: 'display', maxFps: 60, ...(i === 2 ? { formats: ['RGB565', 'YUYV'] } : {}) },
          verbose: false,
        }),
      );
    }
    for (const g of guests) await g.waitFor((r) => r.kind === 'connected', { timeoutMs: 30_000 });
    await sleep(2000); // warm-up: buffers made, pipes enabled
    const samples: Sample[] = [];
    const take = (t: number): Sample => {
      const p = w.daemon.sample();
      const h = dom0Holdings(w.host);
      return {
        t,
        rssMiB: Math.round(p.rssKiB / 102.4) / 10,
        fds: p.fds,
        mappings: h.mappings,
        mappedPages: h.mappedPages,
      };
    };
    const t0 = Date.now();
    const end = t0 + o.minutes * 60_000;
    const cpu0 = w.daemon.sample();
    samples.push(take(0));
    while (Date.now() < end && w.daemon.alive) {
      await sleep(Math.min(o.sampleEverySeconds * 1000, Math.max(0, end - Date.now())));
      if (!w.daemon.alive) break;
      const s = take(Math.round((Date.now() - t0) / 1000));
      samples.push(s);
      o.log?.(`t=${s.t}s rss=${s.rssMiB} MiB fds=${s.fds} mappings=${s.mappings} (${s.mappedPages} pages)`);
    }
    const seconds = (Date.now() - t0) / 1000;
    const cpu1 = w.daemon.alive ? w.daemon.sample() : cpu0;
    const first = samples[0]!;
    const mid = samples[Math.floor(samples.length / 2)]!;
    const last = samples[samples.length - 1]!;
    res.set(
      'samples (t s: rss MiB / fds / mappings)',
      samples.map((s) => `${s.t}: ${s.rssMiB}/${s.fds}/${s.mappings}`).join(', '),
    );
    res.set('RSS MiB first -> mid -> last', `${first.rssMiB} -> ${mid.rssMiB} -> ${last.rssMiB}`);
    res.set('fds first -> last', `${first.fds} -> ${last.fds}`);
    res.set('dom0 mappings first -> last', `${first.mappings} -> ${last.mappings}`);
    res.set('daemon CPU, % of one core', Math.round(((cpu1.cpuSeconds - cpu0.cpuSeconds) / seconds) * 1000) / 10);
    res.check(w.daemon.alive, `the daemon died: ${JSON.stringify(w.daemon.exit)}\n${w.daemon.log.slice(-2000)}`);
    res.check(
      samples.every((s) => s.fds === first.fds),
      `open fds changed: ${samples.map((s) => s.fds).join(' ')}`,
    );
    res.check(
      samples.every((s) => s.mappings === first.mappings && s.mappedPages === first.mappedPages),
      `live mappings changed: ${samples.map((s) => s.mappings).join(' ')}`,
    );
    res.check(
      last.rssMiB - mid.rssMiB <= o.maxSecondHalfRssGrowthMiB,
      `RSS grew ${(last.rssMiB - mid.rssMiB).toFixed(1)} MiB over the second half`,
    );
    let frames = 0;
    let shown = 0;
    for (const g of guests) {
      const stopped = g.waitFor((r) => r.kind === 'stopped', { timeoutMs: 30_000, fresh: true });
      g.send({ cmd: 'stop' });
      const s = await stopped.catch(() => undefined);
      if (s?.kind === 'stopped') shown += s.frames.reduce((a, b) => a + b, 0);
      const f = flipFigures(g.reports, FLIP_DEADLINE_MS);
      frames += f.frames;
      res.check(f.failed === 0 && f.late === 0, `guest ${g.domid}: ${f.failed} flips failed, ${f.late} late`);
      const t = goodGuestTroubles(g.reports);
      res.check(t.length === 0, `guest ${g.domid} saw ${JSON.stringify(t.slice(0, 3))}`);
    }
    res.set('flips shown (8 connectors)', shown);
    res.set('flips per connector per second', Math.round((shown / 8 / seconds) * 10) / 10);
    res.check(shown >= seconds * 8 * 30, `only ${shown} flips in ${seconds.toFixed(0)} s on 8 connectors`);
    res.check(frames === 0, `${frames} flip reports of trouble (non-verbose guests report only failed or late flips)`);
    await closing(w, res, guests);
  } finally {
    await w.close();
  }
  return res;
}
