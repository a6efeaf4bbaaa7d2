// The campaigns by command name, each with its full and its short (CI) size.
import type { CampaignResult } from '../lib/result.js';
import { FAULTS_FULL, FAULTS_SHORT, faultCampaign } from './faults.js';
import { REQUESTS_FULL, REQUESTS_SHORT, requestCampaign } from './requests.js';

export interface CampaignArgs {
  readonly short: boolean;
  readonly seed?: number;
  /** Soak length. */
  readonly minutes?: number;
  readonly log?: (line: string) => void;
}

export const CAMPAIGNS = {
  requests: (a: CampaignArgs): Promise<CampaignResult> =>
    requestCampaign({ ...(a.short ? REQUESTS_SHORT : REQUESTS_FULL), ...(a.seed !== undefined ? { seed: a.seed } : {}), ...(a.log ? { log: a.log } : {}) }),
  faults: (a: CampaignArgs): Promise<CampaignResult> => faultCampaign({ ...(a.short ? FAULTS_SHORT : FAULTS_FULL), ...(a.log ? { log: a.log } : {}) }),
} as const;

export type CampaignName = keyof typeof CAMPAIGNS;
