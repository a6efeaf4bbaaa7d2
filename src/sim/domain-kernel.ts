// What a simulated domain's kernel offers its processes: its own memory (allocate, map), its
// grant table (write entries to share pages, end access), mapping of other domains' grants,
// and event channels. The backend's SimPlatform and the simulated frontend both stand on it.
//
// Sharing is done as in Xen: the granting side writes an entry into its grant table in shared
// memory; the hypervisor checks it when another domain maps it and pins it; the mapping is a
// MAP_SHARED view of the granter's memory file at the granted frames, so both sides touch the
// very same pages. As with gntdev, the frames may lie anywhere: each is placed in one contiguous
// range (native mapFdPages).
import { closeSync, openSync } from 'node:fs';
import { native, type NativeMapping } from '../native/addon.js';
import { PlatformError, XEN_PAGE_SIZE } from '../xen/platform.js';
import { HvClient, statusOf } from './hv/client.js';
import { GrantTableView, gntstName } from './hv/grant-table.js';
import { grantTablePath, ramPath } from './hv/paths.js';
import { GNTMAP_FLAG_READONLY, HvOp, MapFailReason, toI32 } from './hv/wire.js';
import { errnoName } from '../util/errno.js';

/** Bytes of fresh pages zeroed per event-loop turn (1 MiB). */
const ZERO_SLICE_BYTES = 256 * XEN_PAGE_SIZE;

const REASONS: Record<number, string> = {
  [MapFailReason.BadFlagsOrDomain]: 'the entry is not a valid GTF_permit_access grant',
  [MapFailReason.WrongGrantee]: 'the entry grants access to another domain',
  [MapFailReason.ReadOnly]: 'a writable mapping of a read-only grant',
  [MapFailReason.PinnedByOther]: 'the entry is mapped by another domain',
  [MapFailReason.Unstable]: 'the entry kept changing under the hypervisor',
  [MapFailReason.NoDomain]: 'no such (running) domain',
  [MapFailReason.BadRef]: 'the ref is beyond the grant table',
  [MapFailReason.NoSpace]: 'the mapping domain has no maptrack handles left',
};

export function errnoError(what: string, errno: number): PlatformError {
  const name = errnoName(errno) ?? `errno ${errno}`;
  return new PlatformError(`${what}: ${name}`, errno, name);
}

/** Another domain's pages mapped into this process. `close()` is idempotent. */
export interface ForeignMapping {
  readonly domid: number;
  /** As given to mapForeign (kept, not copied: callers never write refs they handed on). */
  readonly refs: ArrayLike<number>;
  /** The granted frames, in ref order; they need not be consecutive (mapped page by page). */
  readonly frames: Uint32Array;
  readonly writable: boolean;
  readonly bytes: Uint8Array;
  close(): void;
}

/** Consecutive pages of this domain's own memory, mapped. `unmap()` is idempotent. */
export interface OwnPages {
  readonly first: number;
  readonly pages: number;
  readonly bytes: Uint8Array;
  unmap(): void;
}

export class DomainKernel {
  private ramFd: number | undefined;
  private gnttabMap: NativeMapping | undefined;
  private table: GrantTableView | undefined;
  private readonly foreignFds = new Map<number, { fd: number; users: number }>();
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly hv: HvClient,
    readonly domid: number,
    readonly ramPages: number,
    readonly grantEntries: number,
  ) {}

  /** Connects as `domid` to the hypervisor of the simulated host in `dir`. */
  static async connect(dir: string, domid: number): Promise<DomainKernel> {
    const hv = await HvClient.connect(dir, domid);
    try {
      const info = await hv.call(HvOp.Info, []);
      if (statusOf(info) !== 0 || info[1] !== domid) throw new Error(`hypervisor refused domain ${domid}`);
      return new DomainKernel(dir, hv, domid, info[2]!, info[3]!);
    } catch (err) {
      hv.close();
      throw err;
    }
  }

  get grantTable(): GrantTableView {
    if (!this.table) {
      const fd = openSync(grantTablePath(this.dir, this.domid), 'r+');
      try {
        this.gnttabMap = native().mapFd(fd, 0, this.grantEntries * 8, true);
      } finally {
        closeSync(fd);
      }
      this.table = new GrantTableView(this.gnttabMap.buffer);
    }
    return this.table;
  }

  /** `n` consecutive zeroed pages of this domain's memory, mapped writable. */
  async allocPages(n: number): Promise<OwnPages> {
    const r = await this.hv.call(HvOp.MemAlloc, [n]);
    if (statusOf(r) !== 0) throw errnoError(`allocating ${n} pages in domain ${this.domid}`, -statusOf(r));
    const first = r[1]!;
    try {
      const own = this.mapOwn(first, n);
      // Zeroed a slice at a time with a turn of the event loop between slices: a backend-allocated
      // buffer can be 64 MiB, and one fill of that held every other guest of the process for
      // hundreds of ms under load (the hostile-request campaign's late flips).
      for (let off = 0; off < own.bytes.length; off += ZERO_SLICE_BYTES) {
        if (off > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        own.bytes.fill(0, off, off + ZERO_SLICE_BYTES);
      }
      return own;
    } catch (err) {
      this.hv.send(HvOp.MemFree, [first, n]);
      throw err;
    }
  }

  /** Returns pages to the domain's allocator (they must not be granted any more). */
  freePages(first: number, n: number): void {
    this.hv.send(HvOp.MemFree, [first, n]);
  }

  /** Maps pages of this domain's own memory (they need not have been allocated by this process). */
  mapOwn(first: number, n: number): OwnPages {
    if (first < 0 || n <= 0 || first + n > this.ramPages) throw new RangeError(`frames ${first}+${n} are not RAM`);
    if (this.ramFd === undefined) this.ramFd = openSync(ramPath(this.dir, this.domid), 'r+');
    const m = native().mapFd(this.ramFd, first * XEN_PAGE_SIZE, n * XEN_PAGE_SIZE, true);
    return { first, pages: n, bytes: new Uint8Array(m.buffer), unmap: () => m.unmap() };
  }

  async allocRefs(n: number): Promise<number[]> {
    const r = await this.hv.call(HvOp.GntAllocRefs, [n]);
    if (statusOf(r) !== 0) throw errnoError(`allocating ${n} grant refs in domain ${this.domid}`, -statusOf(r));
    return [...r.subarray(1)];
  }

  /** Gives refs back; their entries must have been ended (endAccess) first. */
  freeRefs(refs: readonly number[]): void {
    if (refs.length) this.hv.send(HvOp.GntFreeRefs, refs);
  }

  /** Writes a grant entry: `grantee` may map `frame` of this domain. */
  grantAccess(ref: number, grantee: number, frame: number, readonly: boolean): void {
    this.grantTable.grantAccess(ref, grantee, frame, readonly);
  }

  /** Ends access; false while the grantee still maps the page (Xen's GTF_reading/GTF_writing). */
  endAccess(ref: number): boolean {
    return this.grantTable.endAccess(ref);
  }

  /**
   * Hands refs and pages to the hypervisor to end access and free once nothing maps them any
   * more (what Linux's gntalloc and gnttab_end_foreign_access do with a page still in use).
   */
  releaseDeferred(first: number, pages: number, refs: readonly number[]): void {
    this.hv.send(HvOp.GntReleaseDeferred, [first, pages, ...refs]);
  }

  /**
   * Maps `refs` granted by `domid`. Failures are PlatformErrors carrying the errno Linux's
   * gntdev reports (EINVAL for any failed grant) and the GNTST code of the first failure.
   */
  async mapForeign(domid: number, refs: ArrayLike<number>, writable: boolean): Promise<ForeignMapping> {
    // The request is built as one word array, (domid, flags, refs...): no per-ref allocation.
    const args = new Uint32Array(2 + refs.length);
    args[0] = domid;
    args[1] = writable ? 0 : GNTMAP_FLAG_READONLY;
    args.set(refs, 2);
    const r = await this.hv.call(HvOp.GntMap, args);
    const errno = -statusOf(r);
    if (errno !== 0) {
      const gntst = toI32(r[1]!);
      const idx = r[2]!;
      if (gntst === 0) throw errnoError(`mapping ${refs.length} grants of domain ${domid}`, errno);
      const reason = REASONS[r[3]!] ?? gntstName(gntst);
      const err = new PlatformError(
        `mapping grant ref ${refs[idx]} of domain ${domid} (${writable ? 'rw' : 'ro'}): ${gntstName(gntst)}, ${reason}`,
        errno,
        gntstName(gntst),
        gntst,
      );
      throw err;
    }
    const handle = r[4]!;
    // The reply is this process's own copy: its frames are kept as they are.
    const frames = r.subarray(5);
    let mapping: NativeMapping;
    try {
      if (frames.length !== refs.length) {
        throw new PlatformError(
          `mapping ${refs.length} grants of domain ${domid}: the hypervisor answered ${frames.length} frames`,
          5,
          'EIO',
        );
      }
      const fd = this.foreignFd(domid);
      try {
        // Like gntdev, any set of frames becomes one contiguous range of this process; runs of
        // consecutive frames (the usual case) are one mmap each.
        mapping = native().mapFdPages(fd, frames, writable);
      } catch (err) {
        this.releaseForeignFd(domid);
        throw new PlatformError(`mmap of domain ${domid}'s frames failed: ${(err as Error).message}`, 12, 'ENOMEM');
      }
    } catch (err) {
      this.hv.send(HvOp.GntUnmap, [handle]);
      throw err;
    }
    let open = true;
    const bytes = new Uint8Array(mapping.buffer);
    return {
      domid,
      refs,
      frames,
      writable,
      bytes,
      close: () => {
        if (!open) return;
        open = false;
        // Our view goes first, then the pin: the hypervisor never sees a page unpinned while
        // this process can still touch it.
        mapping.unmap();
        this.releaseForeignFd(domid);
        this.hv.send(HvOp.GntUnmap, [handle]);
      },
    };
  }

  /**
   * One page granted by `domid`, copied by the hypervisor (a grant copy: no mapping, nothing left
   * pinned). The bytes are the reply's own words, private to the caller. Failures are those of a
   * read-only mapForeign.
   */
  async copyForeignPage(domid: number, ref: number): Promise<Uint8Array> {
    const r = await this.hv.call(HvOp.GntCopyPage, [domid, ref]);
    const errno = -statusOf(r);
    if (errno !== 0) {
      const gntst = toI32(r[1]!);
      if (gntst === 0) throw errnoError(`copying grant ref ${ref} of domain ${domid}`, errno);
      const reason = REASONS[r[2]!] ?? gntstName(gntst);
      throw new PlatformError(
        `copying grant ref ${ref} of domain ${domid}: ${gntstName(gntst)}, ${reason}`,
        errno,
        gntstName(gntst),
        gntst,
      );
    }
    if (r.length !== 3 + XEN_PAGE_SIZE / 4)
      throw new PlatformError(`copying grant ref ${ref} of domain ${domid}: short reply`, 5, 'EIO');
    return new Uint8Array(r.buffer, r.byteOffset + 12, XEN_PAGE_SIZE);
  }

  async allocUnbound(remoteDomid: number): Promise<number> {
    const r = await this.hv.allocUnbound(remoteDomid);
    if (statusOf(r) !== 0) throw errnoError(`allocating an unbound port for domain ${remoteDomid}`, -statusOf(r));
    return r[1]!;
  }

  async bindInterdomain(remoteDomid: number, remotePort: number): Promise<number> {
    const r = await this.hv.bindInterdomain(remoteDomid, remotePort);
    if (statusOf(r) !== 0) {
      throw errnoError(`binding to port ${remotePort} of domain ${remoteDomid}`, -statusOf(r));
    }
    return r[1]!;
  }

  notify(port: number): void {
    this.hv.notify(port);
  }

  /** Closes a port; its handler is dropped at once, so no event is delivered after this. */
  closePort(port: number): void {
    this.hv.closePort(port);
  }

  /** Resolves when the hypervisor has processed everything this process sent before. */
  async sync(): Promise<void> {
    await this.hv.call(HvOp.Ping, []);
  }

  /** Idempotent. Dropping the connection makes the hypervisor release what this process held. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gnttabMap?.unmap();
    this.gnttabMap = undefined;
    this.table = undefined;
    if (this.ramFd !== undefined) closeSync(this.ramFd);
    this.ramFd = undefined;
    for (const { fd } of this.foreignFds.values()) closeSync(fd);
    this.foreignFds.clear();
    this.hv.close();
  }

  private foreignFd(domid: number): number {
    let e = this.foreignFds.get(domid);
    if (!e) {
      e = { fd: openSync(ramPath(this.dir, domid), 'r+'), users: 0 };
      this.foreignFds.set(domid, e);
    }
    e.users++;
    return e.fd;
  }

  private releaseForeignFd(domid: number): void {
    const e = this.foreignFds.get(domid);
    if (!e || --e.users > 0) return;
    this.foreignFds.delete(domid);
    closeSync(e.fd);
  }
}
