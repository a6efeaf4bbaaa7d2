// Why buffers are copied instead of scanned out as a dma-buf, counted per reason and logged once per
// reason: an operator sees each cause (kernel feature, driver limit, pitch) once, not per frame.
export class FallbackStats {
  private readonly counts = new Map<string, number>();

  constructor(private readonly onFirst: (reason: string) => void) {}

  count(reason: string): void {
    const n = this.counts.get(reason) ?? 0;
    this.counts.set(reason, n + 1);
    if (n === 0) this.onFirst(reason);
  }

  byReason(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
