// Types of the addon's Xen device classes (native/src/gntdev.cc, gntalloc.cc, evtchn.cc). They are
// mechanism: one object per open device node, methods that are one ioctl (or one ioctl + mmap).
// The Linux platform (src/xen/linux) holds the policy.
import type { NativeMapping } from './addon.js';

/** An open /dev/xen/gntdev. close() is idempotent; live mappings keep the descriptor until unmapped. */
export interface NativeGntdev {
  readonly fd: number;
  readonly path: string;
  /** MAP_GRANT_REF + mmap on a worker thread; read-only maps use PROT_READ (GNTMAP_readonly). */
  mapGrants(domid: number, refs: Uint32Array, writable: boolean): Promise<NativeMapping>;
  /** DMABUF_EXP_FROM_REFS; resolves to a close-on-exec dma-buf fd owned by the caller. */
  exportDmabuf(domid: number, refs: Uint32Array, flags: number): Promise<number>;
  /**
   * Takes ownership of an exported fd: drops it and waits (worker thread, at most waitMs) until
   * every importer released the buffer. Never close the fd yourself.
   */
  releaseExported(fd: number, waitMs: number): Promise<'released' | 'timeout'>;
  /** DMABUF_IMP_TO_REFS: grants the dma-buf's pages to domid; keep dmabufFd open until importRelease. */
  importToRefs(dmabufFd: number, domid: number, count: number): Promise<Uint32Array>;
  importRelease(dmabufFd: number): void;
  /** errno of both dma-buf ioctls called with count 0: ENOTTY = absent, EINVAL = present. */
  probeDmabuf(): { exportErrno: number; importErrno: number };
  close(): void;
}

export interface NativeGntalloc {
  readonly fd: number;
  /** Allocates `count` pages granted to domid; unmap() of the mapping ends the grants. */
  alloc(domid: number, count: number, writable: boolean): { refs: Uint32Array; mapping: NativeMapping };
  close(): void;
}

export interface NativeEvtchn {
  readonly fd: number;
  bindInterdomain(remoteDomid: number, remotePort: number): number;
  notify(localPort: number): void;
  unbind(localPort: number): void;
  restrictDomid(domid: number): void;
  /** Ports that fired (each masked until unmask); null after a queue overflow (treat all as pending). */
  readPending(): Uint32Array | null;
  unmask(ports: Uint32Array): void;
  close(): void;
}

export interface XenDeviceConstructors {
  readonly Gntdev: new (path: string) => NativeGntdev;
  readonly Gntalloc: new (path: string) => NativeGntalloc;
  readonly Evtchn: new (path: string) => NativeEvtchn;
}
