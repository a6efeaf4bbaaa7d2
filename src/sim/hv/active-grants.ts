// The hypervisor's private record of a domain's grant entries that are mapped ("active
// entries" in xen/common/grant_table.c), and the checks Xen makes before mapping one. The
// shared entry is only trusted at first pin: later the grantee and frame come from here, so a
// guest rewriting its entry under a live mapping changes nothing (as in Xen).
import {
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
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

interface ActiveEntry {
  readonly grantee: number;
  readonly frame: number;
  readPins: number;
  writePins: number;
}

export type PinResult =
  | { readonly status: typeof GNTST_okay; readonly frame: number }
  | { readonly status: number; readonly reason: MapFailReason };

export class ActiveGrants {
  private readonly active = new Map<number, ActiveEntry>();
  private readonly idleWaiters = new Map<number, (() => void)[]>();

  constructor(
    private readonly table: GrantTableView,
    /** Frames outside [0, ramPages) are not this domain's memory: GNTST_bad_page. */
    private readonly ramPages: number,
  ) {}

  /** Entries with at least one mapping: while non-zero a destroyed domain stays a zombie. */
  get pinnedEntries(): number {
    return this.active.size;
  }

  isPinned(ref: number): boolean {
    return this.active.has(ref);
  }

  pin(ref: number, mapper: number, writable: boolean): PinResult {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.table.entries) {
      return { status: GNTST_bad_gntref, reason: MapFailReason.BadRef };
    }
    const act = this.active.get(ref);
    if (act && act.grantee !== mapper) return { status: GNTST_general_error, reason: MapFailReason.PinnedByOther };
    if (!act || (writable && act.writePins === 0)) {
      const failed = this.setStatus(ref, mapper, writable, !act);
      if (failed !== MapFailReason.None) return { status: GNTST_general_error, reason: failed };
    }
    if (act) {
      if (writable) act.writePins++;
      else act.readPins++;
      return { status: GNTST_okay, frame: act.frame };
    }
    const frame = this.table.frame(ref);
    if (frame >= this.ramPages) {
      this.table.clearFlags(ref, GTF_reading | GTF_writing);
      return { status: GNTST_bad_page, reason: MapFailReason.None };
    }
    this.active.set(ref, { grantee: mapper, frame, readPins: writable ? 0 : 1, writePins: writable ? 1 : 0 });
    return { status: GNTST_okay, frame };
  }

  unpin(ref: number, writable: boolean): void {
    const act = this.active.get(ref);
    if (!act) return;
    if (writable) act.writePins--;
    else act.readPins--;
    if (act.writePins === 0) this.table.clearFlags(ref, GTF_writing);
    if (act.writePins + act.readPins > 0) return;
    this.table.clearFlags(ref, GTF_reading);
    this.active.delete(ref);
    const waiters = this.idleWaiters.get(ref);
    if (waiters) {
      this.idleWaiters.delete(ref);
      for (const w of waiters) w();
    }
  }

  /** Runs `fn` now if the entry is not mapped, else when its last mapping goes. */
  whenIdle(ref: number, fn: () => void): void {
    if (!this.active.has(ref)) {
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
