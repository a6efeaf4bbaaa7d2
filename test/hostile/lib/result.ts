// A campaign's outcome: pass/fail with every failed criterion named, and its figures, printed as
// aligned lines (or one JSON document) by the command and asserted by the short tests.
export type Figure = number | string | boolean;

export class CampaignResult {
  readonly failures: string[] = [];
  readonly figures: Record<string, Figure> = {};
  private readonly started = Date.now();

  constructor(readonly name: string) {}

  /** Records a pass criterion; a false `ok` makes the campaign fail with `what`. */
  check(ok: boolean, what: string): boolean {
    if (!ok) this.failures.push(what);
    return ok;
  }

  set(key: string, value: Figure): void {
    this.figures[key] = value;
  }

  get ok(): boolean {
    return this.failures.length === 0;
  }

  get seconds(): number {
    return Math.round((Date.now() - this.started) / 100) / 10;
  }

  text(): string {
    const keys = Object.keys(this.figures);
    const w = Math.max(8, ...keys.map((k) => k.length));
    const lines = [`campaign ${this.name}: ${this.ok ? 'PASS' : 'FAIL'} in ${this.seconds} s`];
    for (const k of keys) lines.push(`  ${k.padEnd(w)}  ${String(this.figures[k])}`);
    for (const f of this.failures) lines.push(`  FAILED: ${f}`);
    return lines.join('\n');
  }

  json(): string {
    return JSON.stringify(
      { campaign: this.name, ok: this.ok, seconds: this.seconds, figures: this.figures, failures: this.failures },
      null,
      2,
    );
  }
}
