// The campaigns by command name, each with its full and its short (CI) size.
import type { CampaignResult } from '../lib/result.js';
import { BUDGET_FULL, BUDGET_SHORT, budgetCampaign } from './budget.js';
import { FAULTS_FULL, FAULTS_SHORT, faultCampaign } from './faults.js';
import { REQUESTS_FULL, REQUESTS_SHORT, requestCampaign } from './requests.js';
import { RING_FULL, RING_SHORT, ringCampaign } from './ring.js';
import { SOAK_FULL, SOAK_SHORT, soakCampaign } from './soak.js';
import { STORMS_FULL, STORMS_SHORT, stormCampaign } from './storms.js';
import { XENSTORE_FULL, XENSTORE_SHORT, xenstoreCampaign } from './xenstore.js';

export interface CampaignArgs {
  readonly short: boolean;
  readonly seed?: number;
  /** Soak length. */
  readonly minutes?: number;
  readonly log?: (line: string) => void;
  /** Request campaign: how many hostile requests (default the campaign's size). */
  readonly requests?: number;
  /** Measure the daemon (loop lag, CPU profile) into this directory (not the faults campaign: it restarts the daemon). */
  readonly probeDir?: string;
  /** Request campaign: a control run with no hostile guest and this CPU load instead. */
  readonly control?: { readonly burners: number; readonly seconds: number };
}

export const CAMPAIGNS = {
  requests: (a: CampaignArgs): Promise<CampaignResult> =>
    requestCampaign({
      ...(a.short ? REQUESTS_SHORT : REQUESTS_FULL),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.log ? { log: a.log } : {}),
      ...(a.requests !== undefined ? { requests: a.requests } : {}),
      ...(a.probeDir !== undefined ? { probeDir: a.probeDir } : {}),
      ...(a.control !== undefined ? { control: a.control } : {}),
    }),
  faults: (a: CampaignArgs): Promise<CampaignResult> =>
    faultCampaign({ ...(a.short ? FAULTS_SHORT : FAULTS_FULL), ...(a.log ? { log: a.log } : {}) }),
  ring: (a: CampaignArgs): Promise<CampaignResult> =>
    ringCampaign({
      ...(a.short ? RING_SHORT : RING_FULL),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.probeDir !== undefined ? { probeDir: a.probeDir } : {}),
    }),
  xenstore: (a: CampaignArgs): Promise<CampaignResult> =>
    xenstoreCampaign({
      ...(a.short ? XENSTORE_SHORT : XENSTORE_FULL),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.probeDir !== undefined ? { probeDir: a.probeDir } : {}),
    }),
  soak: (a: CampaignArgs): Promise<CampaignResult> =>
    soakCampaign({
      ...(a.short ? SOAK_SHORT : SOAK_FULL),
      ...(a.minutes !== undefined ? { minutes: a.minutes } : {}),
      ...(a.log ? { log: a.log } : {}),
      ...(a.probeDir !== undefined ? { probeDir: a.probeDir } : {}),
    }),
  storms: (a: CampaignArgs): Promise<CampaignResult> =>
    stormCampaign({
      ...(a.short ? STORMS_SHORT : STORMS_FULL),
      ...(a.probeDir !== undefined ? { probeDir: a.probeDir } : {}),
    }),
  budget: (a: CampaignArgs): Promise<CampaignResult> => budgetCampaign(a.short ? BUDGET_SHORT : BUDGET_FULL),
} as const;

export type CampaignName = keyof typeof CAMPAIGNS;
