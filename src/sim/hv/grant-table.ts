// Grant table v1 entries (xen/grant_table.h) over shared memory, and the status codes Xen
// reports for them. Pure: works on any Uint32Array view, whether it is a mapping of a domain's
// grant-table file shared by several processes or a plain array in a unit test.
//
// struct grant_entry_v1 { uint16_t flags; domid_t domid; uint32_t frame; } — 8 bytes. On a
// little-endian machine flags and domid form one 32-bit word (domid << 16 | flags); Xen and the
// granting guest both update that word with compare-and-swap, so it is never torn. Atomics on a
// view of an mmap'ed file are real locked instructions, so the same holds across processes.

export const GRANT_ENTRY_SIZE = 8;
export const GRANT_ENTRIES_PER_FRAME = 4096 / GRANT_ENTRY_SIZE;
/** Xen's default `gnttab_max_frames`: 64 frames = 32768 v1 entries per domain. */
export const DEFAULT_MAX_GRANT_FRAMES = 64;
/** Linux keeps refs 0..7 for the toolstack (GNTTAB_NR_RESERVED_ENTRIES); ref 0 is never exposed. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;

export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_sub_page = 1 << 8;

export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;
export const GNTST_no_space = -13;

const GNTST_NAMES: readonly string[] = [
  'GNTST_okay',
  'GNTST_general_error',
  'GNTST_bad_domain',
  'GNTST_bad_gntref',
  'GNTST_bad_handle',
  'GNTST_bad_virt_addr',
  'GNTST_bad_dev_addr',
  'GNTST_no_device_space',
  'GNTST_permission_denied',
  'GNTST_bad_page',
  'GNTST_bad_copy_arg',
  'GNTST_address_too_big',
  'GNTST_eagain',
  'GNTST_no_space',
];

export function gntstName(status: number): string {
  return GNTST_NAMES[-status] ?? `GNTST_${status}`;
}

/** Views one domain's grant table. `entries` is the number of v1 entries the table holds. */
export class GrantTableView {
  readonly entries: number;
  private readonly words: Uint32Array;

  constructor(buffer: ArrayBuffer) {
    this.words = new Uint32Array(buffer);
    this.entries = Math.floor(this.words.length / 2);
  }

  /** The flags|domid word, read atomically. */
  header(ref: number): number {
    return Atomics.load(this.words, ref * 2);
  }

  frame(ref: number): number {
    return Atomics.load(this.words, ref * 2 + 1);
  }

  /** Compare-and-swap of the flags|domid word; returns the value found (== expected on success). */
  casHeader(ref: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.words, ref * 2, expected >>> 0, replacement >>> 0) >>> 0;
  }

  /** Clears flag bits atomically (Xen's gnttab_clear_flags when the last pin goes). */
  clearFlags(ref: number, flags: number): void {
    Atomics.and(this.words, ref * 2, ~flags >>> 0);
  }

  /**
   * Introduces a valid entry the way a guest must: domid and frame first, then the flags that
   * make it valid, published by a sequentially consistent store (the WMB of the header comment).
   */
  grantAccess(ref: number, granteeDomid: number, frame: number, readonly: boolean): void {
    Atomics.store(this.words, ref * 2, (granteeDomid & 0xffff) << 16);
    Atomics.store(this.words, ref * 2 + 1, frame >>> 0);
    const flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    Atomics.store(this.words, ref * 2, (((granteeDomid & 0xffff) << 16) | flags) >>> 0);
  }

  /**
   * Ends access to an unused entry: fails (returns false) while Xen has the entry pinned for a
   * mapping (GTF_reading or GTF_writing set), exactly as the guest's CMPXCHG does.
   */
  endAccess(ref: number): boolean {
    let seen = this.header(ref);
    for (;;) {
      if (seen & 0xffff & (GTF_reading | GTF_writing)) return false;
      const found = this.casHeader(ref, seen, seen & 0xffff0000);
      if (found === seen) return true;
      seen = found;
    }
  }
}

export function flagsOf(header: number): number {
  return header & 0xffff;
}

export function domidOf(header: number): number {
  return header >>> 16;
}
