// `npm run hostile:<campaign>`: runs one campaign (full size unless --short), prints its figures,
// and exits 0 only if it passed. `--json` prints one JSON document instead; `--seed N` changes the
// hostile guests' seed (a failure names the seed, so it replays). `--probe DIR` measures the
// daemon (event-loop lag and a CPU profile in DIR; not for faults, which restarts it). For the
// request campaign, `--control-burners N` replaces the hostile guests with N CPU-spinning
// processes for `--control-seconds` (a control run with the same load and no hostile guest).
import { parseArgs } from 'node:util';
import { CAMPAIGNS, type CampaignName } from './campaigns/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    short: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    seed: { type: 'string' },
    minutes: { type: 'string' },
    requests: { type: 'string' },
    probe: { type: 'string' },
    'control-burners': { type: 'string' },
    'control-seconds': { type: 'string' },
  },
});

const name = positionals[0] as CampaignName | undefined;
if (!name || !(name in CAMPAIGNS)) {
  console.error(
    `usage: run.ts <${Object.keys(CAMPAIGNS).join('|')}> [--short] [--json] [--seed N] [--minutes N] [--requests N] [--probe DIR] [--control-burners N --control-seconds S]`,
  );
  process.exit(2);
}
const seed = values.seed === undefined ? undefined : Number(values.seed);
const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if ((seed !== undefined && !Number.isInteger(seed)) || (minutes !== undefined && !(minutes > 0))) {
  console.error('--seed takes an integer, --minutes a positive number');
  process.exit(2);
}
const requests = values.requests === undefined ? undefined : Number(values.requests);
const burners = values['control-burners'] === undefined ? undefined : Number(values['control-burners']);
const controlSeconds = Number(values['control-seconds'] ?? 60);
if (
  (requests !== undefined && !(Number.isInteger(requests) && requests > 0)) ||
  (burners !== undefined && !(Number.isInteger(burners) && burners >= 0)) ||
  !(controlSeconds > 0)
) {
  console.error('--requests takes a positive integer, --control-burners a count, --control-seconds a positive number');
  process.exit(2);
}
const result = await CAMPAIGNS[name]({
  ...(requests !== undefined ? { requests } : {}),
  ...(values.probe !== undefined ? { probeDir: values.probe } : {}),
  ...(burners !== undefined ? { control: { burners, seconds: controlSeconds } } : {}),
  short: values.short ?? false,
  ...(seed !== undefined ? { seed } : {}),
  ...(minutes !== undefined ? { minutes } : {}),
  log: (line) => console.error(`[${name}] ${line}`),
});
console.log(values.json ? result.json() : result.text());
process.exit(result.ok ? 0 : 1);
