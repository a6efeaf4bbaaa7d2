// The hypervisor's private record of a domain's grant entries that are mapped ("active
// entries" in xen/common/grant_table.c), and the checks Xen makes before mapping one. The
// shared entry is only trusted at first pin: later the grantee and frame come from here, so a
// guest rewriting its entry under a live mapping changes nothing (as in Xen).
import {
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GTF_permit_access,
  GTF_readonly,
  GTF_reading,
  GTF_sub_page,
  GTF_type_mask,
  GTF_writing,
  GrantTableView,
  domidOf,
  flagsOf,
} from './grant-table.js';
import { MapFailReason } from './wire.js';

/** Why a pin failed: the GNTST code the map reports, and the detail for its message. */
export interface PinFailure {
  readonly status: number;
  readonly reason: MapFailReason;
}

const BAD_REF: PinFailure = { status: GNTST_bad_gntref, reason: MapFailReason.BadRef };
const PINNED_BY_OTHER: PinFailure = { status: GNTST_general_error, reason: MapFailReason.PinnedByOther };
const BAD_PAGE: PinFailure = { status: GNTST_bad_page, reason: MapFailReason.None };
const NO_GRANTEE = -1;

/**
 * One slot per grant entry in flat typed arrays rather than an object per pinned entry: a
 * 1080p buffer pins 2025 entries per map, and this is the simulated hypervisor's hot loop.
 */
export class ActiveGrants {
  private readonly grantee: Int32Array;
  private readonly frames: Uint32Array;
  private readonly readPins: Uint32Array;
  private readonly writePins: Uint32Array;
  private pinned = 0;
  private readonly idleWaiters = new Map<number, (() => void)[]>();

  constructor(
    private readonly table: GrantTableView,
    /** Frames outside [0, ramPages) are not this domain's memory: GNTST_bad_page. */
    private readonly ramPages: number,
  ) {
    const n = table.entries;
    this.grantee = new Int32Array(n).fill(NO_GRANTEE);
    this.frames = new Uint32Array(n);
    this.readPins = new Uint32Array(n);
    this.writePins = new Uint32Array(n);
  }

  /** Entries with at least one mapping: while non-zero a destroyed domain stays a zombie. */
  get pinnedEntries(): number {
    return this.pinned;
  }

  isPinned(ref: number): boolean {
    return ref >= 0 && ref < this.grantee.length && this.grantee[ref] !== NO_GRANTEE;
  }

  /** The frame a pinned entry maps (as read at its first pin). */
  frameOf(ref: number): number {
    return this.frames[ref]!;
  }

  /** Pins `ref` for `mapper`: null on success (frameOf(ref) is the frame), else why not. */
  pin(ref: number, mapper: number, writable: boolean): PinFailure | null {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.table.entries) return BAD_REF;
    const active = this.grantee[ref] !== NO_GRANTEE;
    if (active && this.grantee[ref] !== mapper) return PINNED_BY_OTHER;
    if (!active || (writable && this.writePins[ref] === 0)) {
      const failed = this.setStatus(ref, mapper, writable, !active);
      if (failed !== MapFailReason.None) return { status: GNTST_general_error, reason: failed };
    }
    if (!active) {
      const frame = this.table.frame(ref);
      if (frame >= this.ramPages) {
        this.table.clearFlags(ref, GTF_reading | GTF_writing);
        return BAD_PAGE;
      }
      this.grantee[ref] = mapper;
      this.frames[ref] = frame;
      this.pinned++;
    }
    if (writable) this.writePins[ref]!++;
    else this.readPins[ref]!++;
    return null;
  }

  unpin(ref: number, writable: boolean): void {
    if (!this.isPinned(ref)) return;
    if (writable) this.writePins[ref]!--;
    else this.readPins[ref]!--;
    const writers = this.writePins[ref]!;
    if (writers + this.readPins[ref]! > 0) {
      if (writers === 0) this.table.clearFlags(ref, GTF_writing);
      return;
    }
    // The last pin: both flags go in one atomic update.
    this.table.clearFlags(ref, GTF_reading | GTF_writing);
    this.grantee[ref] = NO_GRANTEE;
    this.pinned--;
    if (this.idleWaiters.size === 0) return;
    const waiters = this.idleWaiters.get(ref);
    if (waiters) {
      this.idleWaiters.delete(ref);
      for (const w of waiters) w();
    }
  }

  /** Runs `fn` now if the entry is not mapped, else when its last mapping goes. */
  whenIdle(ref: number, fn: () => void): void {
    if (!this.isPinned(ref)) {
      fn();
      return;
    }
    const list = this.idleWaiters.get(ref);
    if (list) list.push(fn);
    else this.idleWaiters.set(ref, [fn]);
  }

  /** Sets GTF_reading/GTF_writing with compare-and-swap, checking the entry as Xen's _set_status_v1. */
  private setStatus(ref: number, mapper: number, writable: boolean, firstPin: boolean): MapFailReason {
    let seen = this.table.header(ref);
    for (let retries = 0; ; retries++) {
      const flags = flagsOf(seen);
      if (firstPin) {
        if ((flags & (GTF_type_mask | GTF_sub_page)) !== GTF_permit_access) return MapFailReason.BadFlagsOrDomain;
        if (domidOf(seen) !== mapper) return MapFailReason.WrongGrantee;
      }
      if (writable && flags & GTF_readonly) return MapFailReason.ReadOnly;
      const next = (seen | GTF_reading | (writable ? GTF_writing : 0)) >>> 0;
      const found = this.table.casHeader(ref, seen, next);
      if (found === seen) return MapFailReason.None;
      if (retries === 4) return MapFailReason.Unstable;
      seen = found;
    }
  }
}
