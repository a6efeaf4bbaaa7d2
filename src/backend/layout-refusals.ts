// Which outputs' layouts are refused now, and why: what `vdispld status` and the metrics show
// beside the one log line said at the refusal. An entry lasts while the refusal does: until a
// layout for that output is accepted, its layout is removed, or (a monitor without a mode that
// holds it) a monitor that can show it comes.

/**
 * Why a layout is not shown, in few words (the metric's label; the line says the rest):
 * - `unparsable`: the value is not a layout (XenStore; elsewhere the daemon does not start)
 * - `conflict`: it names a connector another output's layout names
 * - `unfit`: no mode of the output holds it (the layout asked for, or the monitor now plugged in)
 * - `output-refused`: the output is not there or refused the modeset
 */
export type LayoutRefusalReason = 'unparsable' | 'conflict' | 'unfit' | 'output-refused';

export const LAYOUT_REFUSAL_REASONS: readonly LayoutRefusalReason[] = [
  'unparsable',
  'conflict',
  'unfit',
  'output-refused',
];

export interface LayoutRefusal {
  readonly output: string;
  readonly reason: LayoutRefusalReason;
  /** The one line the refusal was said with (key and value named). */
  readonly line: string;
  /**
   * true: the previous layout is still shown; false: the output is dark (the monitor plugged in
   * cannot show the layout, or there was no previous layout).
   */
  readonly previousShown: boolean;
}

export class LayoutRefusals {
  private readonly now = new Map<string, LayoutRefusal>();
  private readonly counts = new Map<LayoutRefusalReason, number>();

  /** A refusal: counted once however often the same value is refused again (every applyLayouts). */
  set(r: LayoutRefusal): void {
    const was = this.now.get(r.output);
    this.now.set(r.output, r);
    if (was?.line !== r.line) this.counts.set(r.reason, (this.counts.get(r.reason) ?? 0) + 1);
  }

  clear(output: string): void {
    this.now.delete(output);
  }

  /** Forgets every output's refusal but those in `keep` (their layouts are still asked for). */
  retain(keep: (output: string) => boolean): void {
    for (const o of [...this.now.keys()]) if (!keep(o)) this.now.delete(o);
  }

  get(output: string): LayoutRefusal | undefined {
    return this.now.get(output);
  }

  /** The refusals in force, by output name. */
  list(): LayoutRefusal[] {
    return [...this.now.values()].sort((a, b) => (a.output < b.output ? -1 : a.output > b.output ? 1 : 0));
  }

  /** Refusals since start, by reason (each said once). */
  total(): Readonly<Record<LayoutRefusalReason, number>> {
    return Object.fromEntries(LAYOUT_REFUSAL_REASONS.map((r) => [r, this.counts.get(r) ?? 0])) as Record<
      LayoutRefusalReason,
      number
    >;
  }
}
