// A flip queue that only records what was queued: PG_FLIP's checks without an output behind them.
import type { FlipQueue } from '../../../src/backend/ops/context.js';
import type { Cookie } from '../../../src/util/ids.js';

export function fakeFlips(): FlipQueue & { queued: Cookie[] } {
  const queued: Cookie[] = [];
  return {
    queued,
    get pending() {
      return queued.length;
    },
    queue: (fb) => void queued.push(fb.cookie),
  };
}
