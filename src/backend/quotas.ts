// Per-device limits (docs/PROTOCOL-NOTES.md, "What the backend checks" 5): one guest cannot make
// the daemon hold unbounded memory, grant mappings or framebuffers; and the dom0-wide budget's
// limits, which bound all guests together (dom0-budget.ts). The defaults fit what the Linux frontend does
// at its largest: 4 connectors, triple-buffered, at 2560x1600 XRGB8888 (12 buffers of 4000 pages).
import { XEN_PAGE_SIZE } from '../xen/platform.js';

export interface Quotas {
  /** Display buffers alive at once per device (DBUF_CREATE beyond it: -ENOMEM). */
  readonly maxBuffers: number;
  /** Framebuffers alive at once per device (FB_ATTACH beyond it: -ENOMEM). */
  readonly maxFramebuffers: number;
  /** Buffer pages held at once per device, frontend- or backend-allocated (-ENOMEM). */
  readonly maxMappedPages: number;
  /** Pages of one buffer (-E2BIG). */
  readonly maxBufferPages: number;
  /** Largest framebuffer side accepted at FB_ATTACH (-EINVAL). */
  readonly maxFbWidth: number;
  readonly maxFbHeight: number;
  /** PG_FLIPs queued on one connector and not yet completed (-EBUSY). */
  readonly maxPendingFlips: number;
  /**
   * Buffer pages a device may have the daemon map or allocate per second, sustained, after a
   * burst of `maxMappedPages` (DBUF_CREATE beyond it: -EAGAIN). Making or mapping a large buffer
   * is a long synchronous stretch of work (zeroing, granting or mapping every page); without a
   * rate a guest that creates and destroys its largest buffer in a loop keeps the daemon busy
   * with that alone.
   */
  readonly bufferPagesPerSecond: number;
  /**
   * Dom0-wide, summed over every guest (dom0-budget.ts): dom0's maptrack entries our grant
   * mappings take (the table blkback and netback share; one per mapped page, two in an x86 PV dom0), dom0 pages allocated and granted to guests (be-alloc), and
   * file descriptors (dma-bufs). A guest may hold at most limit / dom0Guests of each while no
   * more guests hold some, limit / (guests + 1) beyond: `dom0Guests` guests each get a whole
   * share whatever the others do.
   */
  readonly dom0MappedPages: number;
  readonly dom0AllocatedPages: number;
  readonly dom0Fds: number;
  readonly dom0Guests: number;
}

const PAGES_2560x1600 = Math.ceil((2560 * 1600 * 4) / XEN_PAGE_SIZE);

export const DEFAULT_QUOTAS: Quotas = Object.freeze({
  maxBuffers: 32,
  maxFramebuffers: 32,
  // 12 buffers of 2560x1600 need 48000 pages; 48 Ki pages (192 MiB) leaves room for the fbdev console.
  maxMappedPages: Math.max(49152, 12 * PAGES_2560x1600),
  // 64 MiB: a 4096x4096 XRGB8888 buffer.
  maxBufferPages: 16384,
  maxFbWidth: 8192,
  maxFbHeight: 8192,
  maxPendingFlips: 4,
  // One largest buffer (64 MiB) a second, after a burst of a whole device's worth: far more than
  // a frontend allocates outside a mode change, far less than a churning guest would.
  bufferPagesPerSecond: 16384,
  // Half of Xen's default maptrack (gnttab_max_maptrack_frames 1024 x 256 entries = 262,144), in
  // maptrack entries (a mapped page takes two in an x86 PV dom0): the other half stays with
  // blkback, netback and whatever else dom0 runs.
  dom0MappedPages: 131072,
  // 512 MiB of dom0 memory granted to guests as be-alloc buffers.
  dom0AllocatedPages: 131072,
  // dma-buf fds (exports for zero-copy, imports for be-alloc): well inside a service's 1024.
  dom0Fds: 512,
  // Four guests at 32768 pages each (128 MiB: four connectors of 1920x1080, quadruple-buffered).
  dom0Guests: 4,
});

const KEYS: Readonly<Record<string, keyof Quotas>> = {
  buffers: 'maxBuffers',
  framebuffers: 'maxFramebuffers',
  pages: 'maxMappedPages',
  'buffer-pages': 'maxBufferPages',
  'fb-width': 'maxFbWidth',
  'fb-height': 'maxFbHeight',
  'pending-flips': 'maxPendingFlips',
  'pages-per-second': 'bufferPagesPerSecond',
  'dom0-pages': 'dom0MappedPages',
  'dom0-alloc-pages': 'dom0AllocatedPages',
  'dom0-fds': 'dom0Fds',
  'dom0-guests': 'dom0Guests',
};

export const QUOTA_OPTION_KEYS = Object.keys(KEYS);

/** The dom0-wide budget's limits in `q`, read when called (live quotas change). */
export function dom0Limits(q: Quotas): { mappedPages: number; allocatedPages: number; fds: number; guests: number } {
  return { mappedPages: q.dom0MappedPages, allocatedPages: q.dom0AllocatedPages, fds: q.dom0Fds, guests: q.dom0Guests };
}

/**
 * Applies `key=value[,key=value...]` (the --quota option) over `base`. Throws one line naming the
 * bad key or value.
 */
export function parseQuotas(spec: string, base: Quotas = DEFAULT_QUOTAS): Quotas {
  const out: Record<keyof Quotas, number> = { ...base };
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9-]+)=(\d{1,9})$/.exec(part);
    if (!m)
      throw new Error(
        `quota ${JSON.stringify(part)}: expected KEY=NUMBER with KEY one of ${QUOTA_OPTION_KEYS.join(', ')}`,
      );
    const key = KEYS[m[1]!];
    if (!key) throw new Error(`quota ${JSON.stringify(m[1])}: unknown; known: ${QUOTA_OPTION_KEYS.join(', ')}`);
    const n = Number(m[2]);
    if (n < 1) throw new Error(`quota ${m[1]}: must be at least 1`);
    out[key] = n;
  }
  return Object.freeze(out);
}

/**
 * A device's buffer-page rate (Quotas.bufferPagesPerSecond): a token bucket holding up to `burst`
 * pages, refilled at `perSecond`. Time is passed in (milliseconds, monotonic) so the bucket is
 * pure and its tests need no clock.
 */
export class PageRate {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  static of(q: Quotas): PageRate {
    return new PageRate(q.bufferPagesPerSecond, Math.max(q.maxMappedPages, q.maxBufferPages));
  }

  /** Takes `pages` if the bucket holds them (then true); takes nothing otherwise. */
  take(pages: number, nowMs: number): boolean {
    if (this.last !== undefined && nowMs > this.last)
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.perSecond) / 1000);
    if (this.last === undefined || nowMs > this.last) this.last = nowMs;
    if (pages > this.tokens) return false;
    this.tokens -= pages;
    return true;
  }
}
