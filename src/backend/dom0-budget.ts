// The dom0-wide budget. Per-device quotas bound one device; they do not bound what all guests
// together take from what dom0 shares: its grant-mapping table (maptrack, 1024 frames = 262,144
// entries by default, which blkback and netback use too), memory it allocates and grants to
// guests (be-alloc), and file descriptors (dma-bufs). Mappings are counted in the table's entries,
// not in pages: a page takes two in an x86 PV dom0 (PlatformCapabilities.maptrackEntriesPerPage),
// and each time a guest lists a ref counts, however often it names the same one. Every such resource the daemon takes goes
// through budgetedPlatform() below, charged to the guest it is for, and given back when released.
//
// Fairness: a guest may hold at most limit / planned of each kind while no more than `planned`
// guests (the operator's dom0-guests) hold some of it, and limit / (guests + 1) beyond, `guests`
// being the domains that hold something of that kind, itself included. Up to `planned` guests
// each get a whole share whatever the others do (the shares add up to the limit); with more, one
// share is left free for a guest that connects next.
// A guest over its share gets -ENOMEM on its own requests and the others carry on. Shares shrink
// as guests arrive beyond `planned`; nobody's pages are taken back, but a guest holding more than
// its new share is refused until it is under it, and a newcomer then gets what is free. All
// guests together never hold more than the limit (-EAGAIN: the guest is within its share but the
// others hold the rest, for now).
import type { DomId, EvtchnPort, GrantRef, GrantRefs } from '../util/ids.js';
import {
  PlatformError,
  type EventChannel,
  type ExportedDmaBuf,
  type GrantMapping,
  type GrantedBuffer,
  type PlatformCapabilities,
  type PlatformResources,
  type XenPlatform,
} from '../xen/platform.js';

export const BUDGET_KINDS = ['mappedPages', 'allocatedPages', 'fds'] as const;
export type BudgetKind = (typeof BUDGET_KINDS)[number];
export type BudgetCounts = Readonly<Record<BudgetKind, number>>;

export interface BudgetGuest extends BudgetCounts {
  readonly domid: number;
}

/** What `vdispld status` and the metrics show of the budget. */
export interface BudgetReport {
  readonly limits: BudgetCounts;
  /** Guests planned for (dom0-guests): each of that many gets a whole share. */
  readonly planned: number;
  readonly used: BudgetCounts;
  /** What one guest may hold now (with one more guest counted, the share kept free). */
  readonly share: BudgetCounts;
  /** Requests refused since start, by kind. */
  readonly refused: BudgetCounts;
  readonly guests: readonly BudgetGuest[];
}

const ENOMEM = 12;
const EAGAIN = 11;
const NOUNS: Record<BudgetKind, string> = {
  mappedPages: 'grant-map (maptrack) entries',
  allocatedPages: 'granted pages of dom0 memory',
  fds: 'file descriptors',
};
const zero = (): Record<BudgetKind, number> => ({ mappedPages: 0, allocatedPages: 0, fds: 0 });

export class Dom0Budget {
  private readonly byGuest = new Map<number, Record<BudgetKind, number>>();
  private readonly used = zero();
  private readonly refusals = zero();

  /** `limits` is read at every charge: the configuration may change them while running. */
  constructor(private readonly limits: () => BudgetCounts & { readonly guests: number }) {}

  /**
   * Charges `n` of `kind` to `domid`, or throws PlatformError ENOMEM (over its share) or EAGAIN
   * (within its share, but the budget is taken by others). Each charge is given back by exactly
   * one give() of the same amount.
   */
  take(domid: number, kind: BudgetKind, n: number): void {
    this.check(domid, kind, n);
    const mine = this.byGuest.get(domid);
    const g = mine ?? zero();
    if (!mine) this.byGuest.set(domid, g);
    g[kind] += n;
    this.used[kind] += n;
  }

  /**
   * Throws what take() would throw for the same charge, and counts the refusal, but takes nothing:
   * a request that cannot fit is refused before any work is done for it.
   */
  check(domid: number, kind: BudgetKind, n: number): void {
    const limits = this.limits();
    const limit = limits[kind];
    const held = this.byGuest.get(domid)?.[kind] ?? 0;
    const share = this.shareOf(kind, limit, limits.guests, held > 0 ? 0 : 1);
    if (held + n > share) {
      this.refusals[kind]++;
      throw new PlatformError(
        `dom0 budget: dom${domid} would hold ${held + n} ${NOUNS[kind]}, its share is ${share} of ${limit}`,
        ENOMEM,
        'ENOMEM',
      );
    }
    if (this.used[kind] + n > limit) {
      this.refusals[kind]++;
      throw new PlatformError(
        `dom0 budget: ${this.used[kind]} of ${limit} ${NOUNS[kind]} are held, dom${domid} asked for ${n} more`,
        EAGAIN,
        'EAGAIN',
      );
    }
  }

  give(domid: number, kind: BudgetKind, n: number): void {
    const g = this.byGuest.get(domid);
    if (!g || g[kind] < n) throw new Error(`Dom0Budget.give: dom${domid} does not hold ${n} ${kind}`);
    g[kind] -= n;
    this.used[kind] -= n;
    if (BUDGET_KINDS.every((k) => g[k] === 0)) this.byGuest.delete(domid);
  }

  report(): BudgetReport {
    const limits = this.limits();
    const share = zero();
    for (const k of BUDGET_KINDS) share[k] = this.shareOf(k, limits[k], limits.guests, 0);
    return {
      limits: { mappedPages: limits.mappedPages, allocatedPages: limits.allocatedPages, fds: limits.fds },
      planned: limits.guests,
      used: { ...this.used },
      share,
      refused: { ...this.refusals },
      guests: [...this.byGuest].map(([domid, c]) => ({ domid, ...c })).sort((a, b) => a.domid - b.domid),
    };
  }

  /**
   * limit / planned while the guests holding this kind (and `extra` more) are no more than
   * planned; beyond, limit / (guests + 1), a share kept free for the next one.
   */
  private shareOf(kind: BudgetKind, limit: number, planned: number, extra: number): number {
    let guests = extra;
    for (const g of this.byGuest.values()) if (g[kind] > 0) guests++;
    const p = Math.max(1, planned);
    return Math.floor(limit / (guests <= p ? p : guests + 1));
  }
}

/**
 * The platform with every mapping, allocation and dma-buf charged to a budget: the only way the
 * backend reaches the platform, so nothing escapes the count. A dma-buf export is an fd and a
 * second mapping of the guest's pages (gntdev maps them again for the export: maptrack entries);
 * an import grants dom0 pages and keeps a duplicate fd. Event channels are not charged (a
 * connector has exactly two, and connectors are bounded per device); grant copies map nothing.
 */
export class BudgetedPlatform implements XenPlatform {
  readonly copyFromGrant?: (domid: DomId, ref: GrantRef, length: number) => Promise<Uint8Array>;

  constructor(
    private readonly p: XenPlatform,
    readonly budget: Dom0Budget,
  ) {
    if (p.copyFromGrant) this.copyFromGrant = p.copyFromGrant.bind(p);
  }

  get ownDomid(): DomId {
    return this.p.ownDomid;
  }

  get capabilities(): PlatformCapabilities {
    return this.p.capabilities;
  }

  async mapGrants(domid: DomId, refs: GrantRefs, opts: { writable: boolean }): Promise<GrantMapping> {
    const refund = this.charge(domid, [['mappedPages', this.entries(refs.length)]]);
    const m = await this.p.mapGrants(domid, refs, opts).catch((err: unknown) => {
      refund();
      throw err;
    });
    return {
      domid: m.domid,
      refs: m.refs,
      writable: m.writable,
      get bytes() {
        return m.bytes;
      },
      close: once(() => m.close(), refund),
    };
  }

  admitMapping(domid: DomId, pages: number): void {
    this.budget.check(domid, 'mappedPages', this.entries(pages));
  }

  async exportDmaBuf(domid: DomId, refs: GrantRefs): Promise<ExportedDmaBuf> {
    const refund = this.charge(domid, [
      ['mappedPages', this.entries(refs.length)],
      ['fds', 1],
    ]);
    const d = await this.p.exportDmaBuf(domid, refs).catch((err: unknown) => {
      refund();
      throw err;
    });
    let closing: Promise<void> | undefined;
    // Given back once every importer let go: until then gntdev still maps the pages.
    const close = (): Promise<void> => (closing ??= d.close().finally(refund));
    return { ...d, fd: d.fd, size: d.size, close };
  }

  allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer> {
    return this.granted(domid, [['allocatedPages', pages]], () => this.p.allocGranted(domid, pages));
  }

  importDmaBuf(fd: number, domid: DomId, pages: number): Promise<GrantedBuffer> {
    return this.granted(
      domid,
      [
        ['allocatedPages', pages],
        ['fds', 1],
      ],
      () => this.p.importDmaBuf(fd, domid, pages),
    );
  }

  bindEventChannel(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): Promise<EventChannel> {
    return this.p.bindEventChannel(remoteDomid, remotePort, onEvent);
  }

  resources(): PlatformResources {
    return this.p.resources();
  }

  close(): Promise<void> {
    return this.p.close();
  }

  private async granted(
    domid: DomId,
    charges: readonly (readonly [BudgetKind, number])[],
    make: () => Promise<GrantedBuffer>,
  ): Promise<GrantedBuffer> {
    const refund = this.charge(domid, charges);
    const g = await make().catch((err: unknown) => {
      refund();
      throw err;
    });
    return { domid: g.domid, refs: g.refs, bytes: g.bytes, close: once(() => g.close(), refund) };
  }

  /** dom0 maptrack entries a mapping of `pages` pages takes. */
  private entries(pages: number): number {
    return pages * this.p.capabilities.maptrackEntriesPerPage;
  }

  /** Takes every charge or none; returns the refund (idempotent). */
  private charge(domid: DomId, charges: readonly (readonly [BudgetKind, number])[]): () => void {
    const taken: (readonly [BudgetKind, number])[] = [];
    const refund = (): void => {
      for (const [k, n] of taken.splice(0)) this.budget.give(domid, k, n);
    };
    try {
      for (const c of charges) {
        this.budget.take(domid, c[0], c[1]);
        taken.push(c);
      }
    } catch (err) {
      refund();
      throw err;
    }
    return refund;
  }
}

/** close() that releases, then refunds, once. */
function once(close: () => void, refund: () => void): () => void {
  let open = true;
  return () => {
    close();
    if (!open) return;
    open = false;
    refund();
  };
}
