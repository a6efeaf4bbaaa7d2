// Contiguous first-fit allocation of page frames in a domain's memory file. The simulated
// kernels allocate buffers contiguously (as a CMA-backed or huge-page allocation would); nothing
// depends on it for sharing: a mapping of granted frames places each page wherever it lies
// (native mapFdPages), so a guest may grant any frames it likes.

interface Run {
  start: number;
  count: number;
}

export class PageAllocator {
  /** Free runs, sorted by start, never adjacent (merged on free). */
  private free: Run[];
  private used = 0;

  /** Frames [first, first + count) are managed; frames below `first` are reserved. */
  constructor(
    readonly first: number,
    readonly count: number,
  ) {
    this.free = count > 0 ? [{ start: first, count }] : [];
  }

  get usedPages(): number {
    return this.used;
  }

  /** First frame of `n` consecutive free frames, or undefined when no run is long enough. */
  alloc(n: number): number | undefined {
    if (!Number.isInteger(n) || n <= 0) return undefined;
    for (let i = 0; i < this.free.length; i++) {
      const run = this.free[i]!;
      if (run.count < n) continue;
      const start = run.start;
      if (run.count === n) this.free.splice(i, 1);
      else {
        run.start += n;
        run.count -= n;
      }
      this.used += n;
      return start;
    }
    return undefined;
  }

  /** Returns frames to the pool. Throws on a range that is not wholly allocated (a caller bug). */
  release(start: number, n: number): void {
    if (!Number.isInteger(start) || !Number.isInteger(n) || n <= 0) throw new RangeError('release: bad range');
    if (start < this.first || start + n > this.first + this.count) throw new RangeError('release: out of range');
    let i = 0;
    while (i < this.free.length && this.free[i]!.start < start) i++;
    const prev = this.free[i - 1];
    const next = this.free[i];
    if ((prev && prev.start + prev.count > start) || (next && start + n > next.start)) {
      throw new RangeError(`release: frames ${start}+${n} are not allocated`);
    }
    this.used -= n;
    const mergePrev = prev !== undefined && prev.start + prev.count === start;
    const mergeNext = next !== undefined && start + n === next.start;
    if (mergePrev && mergeNext) {
      prev.count += n + next.count;
      this.free.splice(i, 1);
    } else if (mergePrev) prev.count += n;
    else if (mergeNext) {
      next.start = start;
      next.count += n;
    } else this.free.splice(i, 0, { start, count: n });
  }
}

/** Allocation of grant refs: any free ref will do, they need not be consecutive. */
export class RefAllocator {
  private readonly freeList: number[] = [];
  private next: number;
  private inUse = 0;

  constructor(
    first: number,
    readonly limit: number,
  ) {
    this.next = first;
  }

  get used(): number {
    return this.inUse;
  }

  /** `n` refs, or undefined (nothing allocated) when the table would overflow. */
  alloc(n: number): number[] | undefined {
    if (!Number.isInteger(n) || n <= 0) return undefined;
    if (this.freeList.length + (this.limit - this.next) < n) return undefined;
    const out: number[] = [];
    while (out.length < n && this.freeList.length) out.push(this.freeList.pop()!);
    while (out.length < n) out.push(this.next++);
    this.inUse += n;
    return out;
  }

  release(ref: number): void {
    this.freeList.push(ref);
    this.inUse--;
  }
}
