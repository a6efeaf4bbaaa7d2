// The ring's share of a request, in process: a frontend pushes one PG_FLIP-sized request, the
// backend's BackRing takes it and answers it (consume + respond), over memory mapped by the addon.
// Two ways in alternating rounds: the ring steps whole in the addon (two calls), and the same
// steps built from the four SharedMemory operations (one call each, nine per request: what the
// ring cost before the steps). Only the backend's part is timed.
//
//   node --import tsx bench/ring-step.ts [--rounds N] [--requests N]
import { parseArgs } from 'node:util';
import { BackRing } from '../src/displif/back-ring.js';
import { Op } from '../src/displif/constants.js';
import { FrontRing } from '../src/displif/front-ring.js';
import { nativeSharedMemory, type SharedMemory } from '../src/displif/shared-memory.js';
import { native } from '../src/native/addon.js';
import { cookie } from '../src/util/ids.js';
import { figure } from './lib/figures.js';
import { table } from './lib/table.js';

type Way = 'steps' | 'primitives';

function run(way: Way, requests: number): number {
  const m = native().mapAnonymous(4096);
  try {
    const bytes = new Uint8Array(m.buffer);
    const front = FrontRing.init(nativeSharedMemory(bytes));
    const full = nativeSharedMemory(bytes);
    const { ringStep: _steps, ...primitives } = full;
    const mem: SharedMemory = way === 'steps' ? full : primitives;
    const back = new BackRing(mem);
    const req = { kind: 'pg-flip', fbCookie: cookie(1n) } as const;
    let seen = 0;
    const sink = (): void => void seen++;
    let ns = 0;
    for (let i = 0; i < requests; i++) {
      front.writeRequest(req, i & 0xffff);
      front.pushRequests();
      const t0 = process.hrtime.bigint();
      back.consume(32, sink);
      back.respond(i & 0xffff, Op.PG_FLIP, 0);
      ns += Number(process.hrtime.bigint() - t0);
      front.consumeResponses(32, () => undefined);
    }
    if (seen !== requests) throw new Error(`ring-step: ${seen} of ${requests} requests seen`);
    return ns / requests / 1000;
  } finally {
    m.unmap();
  }
}

const { values } = parseArgs({ options: { rounds: { type: 'string' }, requests: { type: 'string' } } });
const rounds = Number(values.rounds ?? 10);
const requests = Number(values.requests ?? 200_000);
const us: Record<Way, number[]> = { steps: [], primitives: [] };
run('steps', 10_000);
run('primitives', 10_000);
for (let r = 0; r < rounds; r++) {
  const order: Way[] = r % 2 === 0 ? ['primitives', 'steps'] : ['steps', 'primitives'];
  for (const w of order) us[w].push(run(w, requests));
}
process.stdout.write(
  table(
    [
      figure({
        id: 'ring-step',
        section: `Ring access per request, in process (${requests} requests per round)`,
        what: 'consume + respond of one request',
        unit: 'µs',
        vdispld: us.steps,
        floorName: 'one addon call per operation',
        floor: us.primitives,
      }),
    ],
    { a: 'ring steps', b: 'primitives' },
  ) + '\n',
);
