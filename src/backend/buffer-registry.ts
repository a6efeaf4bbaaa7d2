// The display buffers and framebuffers of one device, keyed by the guest's cookies (a per-device
// namespace: no guest can name another's buffer), with the device's quotas. Pages are reserved
// before the asynchronous map starts and committed or given back after, so two creations in flight
// can never overshoot a limit together.
import type { DbufGeometry } from '../displif/requests.js';
import type { PixelFormat } from '../displif/formats.js';
import { XEN_E2BIG, XEN_EEXIST, XEN_ENOMEM } from '../displif/constants.js';
import type { BufferSource, FramebufferDesc } from '../drm/output.js';
import type { Cookie } from '../util/ids.js';
import type { GrantedBuffer, GrantMapping } from '../xen/platform.js';
import type { Quotas } from './quotas.js';

/** Where a buffer's pages come from; each owns its pages and releases them with close(). */
export type BufferBacking =
  /** The frontend's pages, mapped (read-only) from its grants. */
  | { readonly kind: 'frontend'; readonly mapping: GrantMapping }
  /** be-alloc: our pages, granted to the frontend. */
  | { readonly kind: 'backend'; readonly granted: GrantedBuffer };

export interface DisplayBuffer {
  readonly cookie: Cookie;
  /** null for a PRIME import: the geometry arrives with FB_ATTACH. */
  readonly geometry: DbufGeometry | null;
  readonly bufferSz: number;
  readonly dataOfs: number;
  readonly pages: number;
  readonly backing: BufferBacking;
  /** The backing's holders: the registry's own hold ends at DBUF_DESTROY or tear-down. */
  readonly holds: BackingHolds;
  readonly source: BufferSource;
  /** Framebuffers over this buffer, by cookie. */
  readonly framebuffers: Set<Cookie>;
}

export interface Framebuffer {
  readonly cookie: Cookie;
  readonly dbuf: DisplayBuffer;
  readonly format: PixelFormat;
  readonly desc: FramebufferDesc;
}

/** A claim on quota for a buffer being created; exactly one of commit/cancel ends it. */
export interface Reservation {
  readonly cookie: Cookie;
  readonly pages: number;
}

export interface RegistryCounts {
  readonly buffers: number;
  readonly framebuffers: number;
  /** Pages held by committed buffers plus pages reserved by creations in flight. */
  readonly pages: number;
}

/** Result of a registry check: a reservation or a negative Xen errno. */
export type Reserved = { readonly ok: true; readonly r: Reservation } | { readonly ok: false; readonly errno: number };

export class BufferRegistry {
  private readonly buffers = new Map<Cookie, DisplayBuffer>();
  private readonly fbs = new Map<Cookie, Framebuffer>();
  private readonly inFlight = new Map<Cookie, Reservation>();
  private pages = 0;

  constructor(readonly quotas: Quotas) {}

  reserveBuffer(cookie: Cookie, pages: number): Reserved {
    if (this.buffers.has(cookie) || this.inFlight.has(cookie)) return { ok: false, errno: -XEN_EEXIST };
    if (pages > this.quotas.maxBufferPages) return { ok: false, errno: -XEN_E2BIG };
    if (this.buffers.size + this.inFlight.size >= this.quotas.maxBuffers) return { ok: false, errno: -XEN_ENOMEM };
    if (this.pages + pages > this.quotas.maxMappedPages) return { ok: false, errno: -XEN_ENOMEM };
    const r: Reservation = { cookie, pages };
    this.inFlight.set(cookie, r);
    this.pages += pages;
    return { ok: true, r };
  }

  /** Gives back a reservation whose creation failed. */
  cancel(r: Reservation): void {
    if (this.inFlight.get(r.cookie) !== r) return;
    this.inFlight.delete(r.cookie);
    this.pages -= r.pages;
  }

  /** Turns a reservation into a live buffer; false if it was cancelled meanwhile (device torn down). */
  commit(r: Reservation, dbuf: DisplayBuffer): boolean {
    if (this.inFlight.get(r.cookie) !== r || dbuf.cookie !== r.cookie || dbuf.pages !== r.pages) return false;
    this.inFlight.delete(r.cookie);
    this.buffers.set(dbuf.cookie, dbuf);
    return true;
  }

  buffer(cookie: Cookie): DisplayBuffer | undefined {
    return this.buffers.get(cookie);
  }

  /** Removes a buffer (its framebuffers must be gone already) and gives its pages back. */
  removeBuffer(cookie: Cookie): DisplayBuffer | undefined {
    const b = this.buffers.get(cookie);
    if (!b) return undefined;
    if (b.framebuffers.size > 0) throw new Error('BufferRegistry.removeBuffer: framebuffers still attached');
    this.buffers.delete(cookie);
    this.pages -= b.pages;
    return b;
  }

  /** -EEXIST, -ENOMEM or 0: whether a framebuffer with this cookie may be added now. */
  canAddFramebuffer(cookie: Cookie): number {
    if (this.fbs.has(cookie)) return -XEN_EEXIST;
    if (this.fbs.size >= this.quotas.maxFramebuffers) return -XEN_ENOMEM;
    return 0;
  }

  addFramebuffer(fb: Framebuffer): void {
    if (this.canAddFramebuffer(fb.cookie) !== 0)
      throw new Error('BufferRegistry.addFramebuffer: check canAddFramebuffer first');
    if (this.buffers.get(fb.dbuf.cookie) !== fb.dbuf) throw new Error('BufferRegistry.addFramebuffer: unknown buffer');
    this.fbs.set(fb.cookie, fb);
    fb.dbuf.framebuffers.add(fb.cookie);
  }

  framebuffer(cookie: Cookie): Framebuffer | undefined {
    return this.fbs.get(cookie);
  }

  removeFramebuffer(cookie: Cookie): Framebuffer | undefined {
    const fb = this.fbs.get(cookie);
    if (!fb) return undefined;
    this.fbs.delete(cookie);
    fb.dbuf.framebuffers.delete(cookie);
    return fb;
  }

  /** For tear-down: every framebuffer, then every buffer, removed from the registry. */
  drain(): { framebuffers: Framebuffer[]; buffers: DisplayBuffer[] } {
    const framebuffers = [...this.fbs.values()];
    for (const fb of framebuffers) this.removeFramebuffer(fb.cookie);
    const buffers = [...this.buffers.values()];
    for (const b of buffers) this.removeBuffer(b.cookie);
    // Creations in flight find their reservation gone at commit and release what they mapped.
    for (const r of [...this.inFlight.values()]) this.cancel(r);
    return { framebuffers, buffers };
  }

  counts(): RegistryCounts {
    return { buffers: this.buffers.size, framebuffers: this.fbs.size, pages: this.pages };
  }
}

/**
 * Who holds a buffer's pages: the device (from DBUF_CREATE to DBUF_DESTROY or tear-down) and any
 * output still showing the buffer's last picture after it was destroyed, as a CRTC keeps scanning
 * out a framebuffer removed under it. The pages go when the last holder lets go; so releasing a
 * shown buffer costs no copy of its picture on the request's turn, and an output holds at most the
 * one buffer it shows.
 */
export class BackingHolds {
  private count = 1;
  private own = true;

  constructor(private readonly backing: BufferBacking) {}

  /** A further holder while the pages are alive: the function to let go (idempotent), else undefined. */
  retain(): (() => void) | undefined {
    if (this.count === 0) return undefined;
    this.count++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.drop();
    };
  }

  /** The device's own hold ends (idempotent). */
  releaseOwn(): void {
    if (this.own) {
      this.own = false;
      this.drop();
    }
  }

  /** Pages still mapped or allocated (a holder is left). */
  get alive(): boolean {
    return this.count > 0;
  }

  private drop(): void {
    if (--this.count > 0) return;
    const b = this.backing;
    if (b.kind === 'frontend') b.mapping.close();
    else b.granted.close();
  }
}

/** The device lets go of a buffer's pages; they are released now unless an output still shows them. */
export function releaseBacking(b: DisplayBuffer): void {
  b.holds.releaseOwn();
}
