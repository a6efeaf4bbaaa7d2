// Ring and event-page abuse: req_prod jumping ahead, past the ring, backwards and across the wrap;
// in_cons ahead of in_prod, far behind and at the wrap; and a notification storm at the rate a
// process can send them — while a good guest flips at 60 frames/s. Pass: each lying device is
// closed (and comes back when its frontend restarts), the daemon's CPU under the storm is
// reported and bounded, the good guest is unaffected, nothing is left afterwards.
import type { HostileAttack } from '../../../src/sim/frontend/protocol.js';
import { CampaignResult } from '../lib/result.js';
import { startWorld } from '../lib/world.js';
import { closing, goodGuest, judgeGoodGuest, runHostile } from './common.js';

export interface RingCampaignOptions {
  readonly abuseSeconds: number;
  readonly stormSeconds: number;
  readonly seed: number;
  /** The storm may cost the daemon at most this share of one core. */
  readonly maxStormCpuShare: number;
  /** Measure the daemon (event-loop lag, CPU profile) into this directory. */
  readonly probeDir?: string;
}

export const RING_FULL: RingCampaignOptions = {
  abuseSeconds: 60,
  stormSeconds: 30,
  seed: 0xa11ce,
  maxStormCpuShare: 0.5,
};
export const RING_SHORT: RingCampaignOptions = {
  abuseSeconds: 6,
  stormSeconds: 4,
  seed: 0xa11ce,
  maxStormCpuShare: 0.5,
};

const ABUSE: readonly HostileAttack[] = [
  'ring-corruption',
  'event-page',
  'event-page',
  'request-burst',
  'request-burst',
  'bad-cookies',
];

export async function ringCampaign(o: RingCampaignOptions): Promise<CampaignResult> {
  const res = new CampaignResult('ring');
  const w = await startWorld(o.probeDir ? { probeDir: o.probeDir } : {});
  try {
    const good = await goodGuest(w);
    const t0 = Date.now();
    const abuse = await runHostile(
      w,
      [0, 1].map((i) => ({
        vdispl: [`connectors=r${i}a:64x48;r${i}b:64x48`],
        behaviour: { kind: 'hostile' as const, seed: o.seed + i, operations: 1e9, attacks: ABUSE, progressEvery: 5 },
      })),
      o.abuseSeconds,
    );
    res.set(
      'ring lies told (ring-corruption, event-page)',
      `${abuse.totals.byAttack['ring-corruption'] ?? 0}, ${abuse.totals.byAttack['event-page'] ?? 0}`,
    );
    res.set('hostile connections (apps incl. reconnections)', abuse.totals.apps);
    res.set(
      'requests lost to a closed device / unanswered while connected',
      `${abuse.totals.closedUnanswered} / ${abuse.totals.unanswered}`,
    );
    res.check(
      abuse.totals.unanswered === 0,
      `${abuse.totals.unanswered} requests unanswered while their device was connected`,
    );
    res.check(abuse.totals.apps > 2, 'no lying device was closed and reconnected');

    // The storm: one guest notifying both its channels as fast as it can, nothing else.
    const cpu0 = w.daemon.sample();
    const s0 = Date.now();
    const storm = await runHostile(
      w,
      [
        {
          vdispl: ['connectors=st0:64x48'],
          behaviour: { kind: 'hostile', seed: o.seed + 9, operations: 1e9, attacks: ['event-storm'], progressEvery: 5 },
        },
      ],
      o.stormSeconds,
    );
    const stormS = (Date.now() - s0) / 1000;
    const cpu1 = w.daemon.sample();
    const share = (cpu1.cpuSeconds - cpu0.cpuSeconds) / stormS;
    const notifications = (storm.totals.byAttack['event-storm'] ?? 0) * 5000;
    res.set('storm notifications sent', notifications);
    res.set('storm notifications/s', Math.round(notifications / stormS));
    res.set('daemon CPU under the storm, % of one core', Math.round(share * 1000) / 10);
    res.check(
      share <= o.maxStormCpuShare,
      `the storm cost the daemon ${(share * 100).toFixed(1)}% of a core (limit ${o.maxStormCpuShare * 100}%)`,
    );
    judgeGoodGuest(res, good, (Date.now() - t0) / 1000);
    await closing(w, res, [...abuse.guests, ...storm.guests, good.guest]);
  } finally {
    await w.close();
  }
  return res;
}
