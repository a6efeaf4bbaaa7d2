// The platform seam: everything the backend needs from Xen besides XenStore. The Linux
// implementation sits on gntdev/evtchn/gntalloc through the native addon; the simulator's sits
// on simulated grant tables and event channels. The backend cannot tell them apart.
import { ErrnoError } from '../util/errno.js';
import type { DomId, EvtchnPort, GrantRef, GrantRefs } from '../util/ids.js';

export const XEN_PAGE_SIZE = 4096;

/**
 * A failure of a platform operation. `errno` is the positive errno the kernel reported (the
 * backend answers a request with its negation); `code` names it ('EINVAL', or the grant status's
 * name); `gntst` is the Xen grant status (GNTST_*, negative) where Xen reported one.
 */
export class PlatformError extends ErrnoError {
  constructor(
    message: string,
    errno: number,
    readonly code: string,
    readonly gntst?: number,
  ) {
    super(message, errno);
  }
}

/** Pages of another domain mapped into ours, in the order of the refs. */
export interface GrantMapping {
  readonly domid: DomId;
  readonly refs: GrantRefs;
  readonly writable: boolean;
  /** The mapped bytes, refs.length * XEN_PAGE_SIZE long. Detached after close(). */
  readonly bytes: Uint8Array;
  /** Idempotent: unmaps the pages. */
  close(): void;
}

/** A dma-buf made from another domain's grants (gntdev DMABUF_EXP_FROM_REFS). */
export interface ExportedDmaBuf {
  readonly fd: number;
  readonly size: number;
  /** Closes our fd, then waits (off the event loop) until every importer released it. Idempotent. */
  close(): Promise<void>;
}

/** Our memory granted to another domain: be-alloc buffers (gntalloc or DMABUF_IMP_TO_REFS). */
export interface GrantedBuffer {
  readonly domid: DomId;
  readonly refs: GrantRefs;
  /** Our view of the pages, when they are CPU-mappable (gntalloc); undefined for an imported dma-buf. */
  readonly bytes: Uint8Array | undefined;
  /** Ends foreign access and frees; idempotent. */
  close(): void;
}

export interface EventChannel {
  readonly remoteDomid: DomId;
  readonly remotePort: EvtchnPort;
  readonly localPort: EvtchnPort;
  notify(): void;
  /** Idempotent: unbinds; no handler call after it returns. */
  close(): void;
}

export interface PlatformCapabilities {
  /** gntdev can export grants as a dma-buf (zero-copy scanout possible). */
  readonly dmabufExport: boolean;
  /** gntdev can grant a dma-buf's pages to a guest (zero-copy be-alloc). */
  readonly dmabufImport: boolean;
  /** gntalloc can allocate pages and grant them (copy be-alloc). */
  readonly grantAlloc: boolean;
  /**
   * Entries of this domain's grant-mapping table (Xen's maptrack) one mapped guest page takes: 2 in
   * an x86 PV domain, where gntdev maps each page once for the process and once more for the
   * kernel's own address of it (measured on Xen 4.17, docs/SECURITY.md), 1 elsewhere. The dom0-wide
   * budget is charged in these entries, the table it protects.
   */
  readonly maptrackEntriesPerPage: 1 | 2;
  /** One line for the log: what is available and, for what is not, why. */
  readonly summary: string;
}

/** Counts of every live kernel-ish resource the platform handed out; all zero after a clean tear-down. */
export interface PlatformResources {
  readonly grantMappings: number;
  readonly mappedPages: number;
  readonly exportedDmaBufs: number;
  readonly grantedBuffers: number;
  readonly eventChannels: number;
}

export interface XenPlatform {
  readonly ownDomid: DomId;
  readonly capabilities: PlatformCapabilities;
  /** Maps foreign grants; large maps may run on a worker thread. Rejects with PlatformError. */
  mapGrants(domid: DomId, refs: GrantRefs, opts: { writable: boolean }): Promise<GrantMapping>;
  /**
   * Optional: the first `length` (<= 4096) bytes of one granted page, copied by the hypervisor
   * into private memory (gntdev's GNTDEV_IOCTL_GRANT_COPY) without mapping it. Cheaper than
   * map, copy, unmap for a page read once (page directories): no page tables, no TLB shoot-down.
   * Checks and failures are those of a read-only mapGrants. Without it, callers map and copy.
   */
  copyFromGrant?(domid: DomId, ref: GrantRef, length: number): Promise<Uint8Array>;
  /**
   * Optional: throws the PlatformError a read-only mapping of `pages` pages for `domid` would get
   * now from a limit known before anything is read (the dom0-wide budget); takes nothing. Lets a
   * caller refuse a buffer before walking its page directory, not after.
   */
  admitMapping?(domid: DomId, pages: number): void;
  exportDmaBuf(domid: DomId, refs: GrantRefs): Promise<ExportedDmaBuf>;
  /** Allocates `pages` pages and grants them to `domid` (writable). */
  allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer>;
  /** Grants the pages of a dma-buf (fd) to `domid`. */
  importDmaBuf(fd: number, domid: DomId, pages: number): Promise<GrantedBuffer>;
  /** `onEvent` is called (from the event loop, coalesced) whenever the remote end notifies. */
  bindEventChannel(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): Promise<EventChannel>;
  resources(): PlatformResources;
  close(): Promise<void>;
}
