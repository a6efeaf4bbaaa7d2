// A benchmark figure: one quantity measured over repeated runs for vdispld and, in the same
// runs, for its floor; the ratio between them; and the target for it, if it has one.
import { summarize, type Summary } from './stats.js';

export interface Target {
  /** The target as the issue states it. */
  readonly text: string;
  readonly met: boolean;
}

export interface Figure {
  readonly id: string;
  readonly section: string;
  readonly what: string;
  readonly unit: string;
  readonly vdispld: Summary;
  /** What the floor is ("C ring floor", "memcpy", ...), and its value in the same runs. */
  readonly floorName?: string;
  readonly floor?: Summary;
  /** vdispld / floor per run (runs paired in time), summarized. */
  readonly ratio?: Summary;
  readonly target?: Target;
  readonly note?: string;
}

export interface FigureInput {
  readonly id: string;
  readonly section: string;
  readonly what: string;
  readonly unit: string;
  readonly vdispld: readonly number[];
  readonly floorName?: string;
  readonly floor?: readonly number[];
  readonly note?: string;
  /** Given the summarized figure, the target and whether it is met. */
  readonly target?: (f: Omit<Figure, 'target'>) => Target;
}

/** Summarizes paired runs: run i of vdispld and run i of the floor were measured back to back. */
export function figure(i: FigureInput): Figure {
  const vdispld = summarize(i.vdispld);
  const floor = i.floor ? summarize(i.floor) : undefined;
  const ratio =
    i.floor && i.floor.length === i.vdispld.length && i.floor.length > 0
      ? summarize(i.vdispld.map((v, k) => v / i.floor![k]!))
      : floor
        ? summarize([vdispld.median / floor.median])
        : undefined;
  const base: Omit<Figure, 'target'> = {
    id: i.id,
    section: i.section,
    what: i.what,
    unit: i.unit,
    vdispld,
    ...(i.floorName !== undefined ? { floorName: i.floorName } : {}),
    ...(floor ? { floor } : {}),
    ...(ratio ? { ratio } : {}),
    ...(i.note !== undefined ? { note: i.note } : {}),
  };
  return i.target ? { ...base, target: i.target(base) } : base;
}
