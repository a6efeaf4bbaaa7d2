// Requests answered, by operation and result, counted on the request path: one array increment
// per request, no allocation, no label hashing; the Prometheus labels are made at scrape time.
import { Op } from '../../displif/constants.js';
import { errnoName } from '../../util/errno.js';

const OPS: readonly [number, string][] = Object.entries(Op).map(([name, code]) => [code, name]);
const OP_NAMES = new Map(OPS);
/** Operation codes are 0x10..0x16; anything else a guest sends is counted as "unknown". */
const OP_BASE = 0x10;
const OP_SLOTS = 8;
/** Results: 0 = ok, 1..MAX_ERRNO = that errno, MAX_ERRNO+1 = other. */
const MAX_ERRNO = 127;
const RESULT_SLOTS = MAX_ERRNO + 2;

/** The result label of a status: 'ok', or the errno's name (the one table, src/util/errno.ts). */
export function resultName(status: number): string {
  if (status === 0) return 'ok';
  return errnoName(status) ?? `E${Math.abs(status)}`;
}

export function opName(op: number): string {
  return OP_NAMES.get(op) ?? 'unknown';
}

export class RequestCounts {
  private readonly counts = new Float64Array((OP_SLOTS + 1) * RESULT_SLOTS);

  add(op: number, status: number): void {
    const o = op >= OP_BASE && op < OP_BASE + OP_SLOTS ? op - OP_BASE : OP_SLOTS;
    const e = status === 0 ? 0 : Math.min(Math.abs(status) | 0, MAX_ERRNO + 1);
    this.counts[o * RESULT_SLOTS + e]!++;
  }

  /** Every non-zero count as {op, result, n}. */
  entries(): { op: string; result: string; n: number }[] {
    const out: { op: string; result: string; n: number }[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const n = this.counts[i]!;
      if (n === 0) continue;
      const o = Math.floor(i / RESULT_SLOTS);
      const e = i % RESULT_SLOTS;
      out.push({
        op: o === OP_SLOTS ? 'unknown' : opName(OP_BASE + o),
        result: e === 0 ? 'ok' : e === MAX_ERRNO + 1 ? 'other' : resultName(e),
        n,
      });
    }
    return out;
  }
}
