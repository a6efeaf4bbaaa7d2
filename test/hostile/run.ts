// `npm run hostile:<campaign>`: runs one campaign (full size unless --short), prints its figures,
// and exits 0 only if it passed. `--json` prints one JSON document instead; `--seed N` changes the
// hostile guests' seed (a failure names the seed, so it replays).
import { parseArgs } from 'node:util';
import { CAMPAIGNS, type CampaignName } from './campaigns/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    short: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    seed: { type: 'string' },
    minutes: { type: 'string' },
  },
});

const name = positionals[0] as CampaignName | undefined;
if (!name || !(name in CAMPAIGNS)) {
  console.error(`usage: run.ts <${Object.keys(CAMPAIGNS).join('|')}> [--short] [--json] [--seed N] [--minutes N]`);
  process.exit(2);
}
const seed = values.seed === undefined ? undefined : Number(values.seed);
const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if ((seed !== undefined && !Number.isInteger(seed)) || (minutes !== undefined && !(minutes > 0))) {
  console.error('--seed takes an integer, --minutes a positive number');
  process.exit(2);
}
const result = await CAMPAIGNS[name]({
  short: values.short ?? false,
  ...(seed !== undefined ? { seed } : {}),
  ...(minutes !== undefined ? { minutes } : {}),
  log: (line) => console.error(`[${name}] ${line}`),
});
console.log(values.json ? result.json() : result.text());
process.exit(result.ok ? 0 : 1);
