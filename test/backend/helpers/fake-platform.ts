// A small in-process XenPlatform for the backend's unit tests: guest pages in one arena per
// domain, grants checked like Xen checks them (unknown ref, read-only), mappings that are the very
// pages (consecutive refs map as one view), event channels fired by the test. The simulator proper
// (src/sim) is what the multi-process tests use; this one keeps policy tests small and exact.
import {
  PlatformError,
  XEN_PAGE_SIZE,
  type EventChannel,
  type ExportedDmaBuf,
  type GrantMapping,
  type GrantedBuffer,
  type PlatformCapabilities,
  type PlatformResources,
  type XenPlatform,
} from '../../../src/xen/platform.js';
import {
  domId,
  evtchnPort,
  grantRef,
  grantRefsOf,
  type DomId,
  type EvtchnPort,
  type GrantRef,
  type GrantRefs,
} from '../../../src/util/ids.js';
import { directoryPageCount, writePageDirectory } from '../../../src/displif/page-directory.js';

interface Grant {
  readonly page: number;
  readonly readonly: boolean;
}

export class FakeGuest {
  readonly arena: Uint8Array;
  private nextPage = 0;
  readonly grants = new Map<number, Grant>();
  private nextRef = 8;

  constructor(
    readonly domid: DomId,
    pages: number,
  ) {
    this.arena = new Uint8Array(pages * XEN_PAGE_SIZE);
  }

  /** Allocates `n` consecutive pages and grants each; returns the refs (consecutive too). */
  grantPages(n: number, readonly = false): GrantRef[] {
    const refs: GrantRef[] = [];
    for (let i = 0; i < n; i++) {
      const page = this.nextPage++;
      if (page * XEN_PAGE_SIZE >= this.arena.length) throw new Error('fake guest out of memory');
      const ref = this.nextRef++;
      this.grants.set(ref, { page, readonly });
      refs.push(grantRef(ref));
    }
    return refs;
  }

  /**
   * A frontend-allocated buffer of `pages` pages: its data pages and a directory naming them, as
   * xen-drm-front lays it out; `dir` is what DBUF_CREATE's gref_directory names.
   */
  shareBuffer(pages: number): { dir: GrantRef; data: GrantRef[]; dirRefs: GrantRef[] } {
    const data = this.grantPages(pages);
    const dirRefs = this.grantPages(directoryPageCount(pages));
    writePageDirectory(
      dirRefs.map((r) => this.page(r)),
      dirRefs,
      data,
    );
    return { dir: dirRefs[0]!, data, dirRefs };
  }

  page(ref: number): Uint8Array {
    const g = this.grants.get(ref);
    if (!g) throw new Error(`no grant ${ref}`);
    return this.arena.subarray(g.page * XEN_PAGE_SIZE, (g.page + 1) * XEN_PAGE_SIZE);
  }

  revoke(ref: number): void {
    this.grants.delete(ref);
  }
}

export class FakePlatform implements XenPlatform {
  readonly ownDomid = domId(0);
  /** Replaceable: a test may play an x86 PV dom0 (two maptrack entries per mapped page). */
  capabilities: PlatformCapabilities = {
    dmabufExport: false,
    dmabufImport: false,
    grantAlloc: true,
    maptrackEntriesPerPage: 1,
    summary: 'fake',
  };
  readonly guests = new Map<number, FakeGuest>();
  private mappings = 0;
  private mapped = 0;
  private granted = 0;
  private channels = 0;
  readonly handlers = new Map<number, () => void>();
  readonly notified = new Map<number, number>();
  /** Backend-allocated pages granted to guests: ref → bytes. */
  readonly backendGrants = new Map<number, Uint8Array>();
  private nextLocalPort = 100;
  private nextBackendRef = 100000;
  /** When set, mapGrants waits for this before answering (deadline tests). */
  mapGate: Promise<void> | undefined;

  guest(domid: number, pages = 4096): FakeGuest {
    let g = this.guests.get(domid);
    if (!g) {
      g = new FakeGuest(domId(domid), pages);
      this.guests.set(domid, g);
    }
    return g;
  }

  async mapGrants(domid: DomId, refs: GrantRefs, opts: { writable: boolean }): Promise<GrantMapping> {
    if (this.mapGate) await this.mapGate;
    const g = this.guests.get(domid);
    if (!g || refs.length === 0) throw new PlatformError('bad domain', 22, 'GNTST_bad_domain', -2);
    const grants = Array.from(refs, (r) => g.grants.get(grantRef(r)));
    grants.forEach((gr, i) => {
      if (!gr) throw new PlatformError(`unknown grant ref ${refs[i]}`, 22, 'GNTST_bad_gntref', -4);
      if (opts.writable && gr.readonly)
        throw new PlatformError(`grant ref ${refs[i]} is read-only`, 22, 'GNTST_permission_denied', -8);
    });
    const first = grants[0]!.page;
    const consecutive = grants.every((gr, i) => gr!.page === first + i);
    let bytes: Uint8Array;
    if (consecutive) {
      bytes = g.arena.subarray(first * XEN_PAGE_SIZE, (first + refs.length) * XEN_PAGE_SIZE);
    } else {
      // Not the same pages: good enough for tests that only read what was there at map time.
      bytes = new Uint8Array(refs.length * XEN_PAGE_SIZE);
      grants.forEach((gr, i) =>
        bytes.set(g.arena.subarray(gr!.page * XEN_PAGE_SIZE, (gr!.page + 1) * XEN_PAGE_SIZE), i * XEN_PAGE_SIZE),
      );
    }
    this.mappings++;
    this.mapped += refs.length;
    let open = true;
    return {
      domid,
      refs,
      writable: opts.writable,
      get bytes() {
        return open ? bytes : new Uint8Array(0);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.mappings--;
        this.mapped -= refs.length;
      },
    };
  }

  exportDmaBuf(): Promise<ExportedDmaBuf> {
    return Promise.reject(new PlatformError('no dma-buf', 25, 'ENOTTY'));
  }

  allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer> {
    const bytes = new Uint8Array(pages * XEN_PAGE_SIZE);
    const refs: GrantRef[] = [];
    for (let i = 0; i < pages; i++) {
      const ref = this.nextBackendRef++;
      refs.push(grantRef(ref));
      this.backendGrants.set(ref, bytes.subarray(i * XEN_PAGE_SIZE, (i + 1) * XEN_PAGE_SIZE));
    }
    this.granted++;
    let open = true;
    return Promise.resolve({
      domid,
      refs: grantRefsOf(refs),
      bytes,
      close: () => {
        if (!open) return;
        open = false;
        this.granted--;
        for (const r of refs) this.backendGrants.delete(r);
      },
    });
  }

  importDmaBuf(): Promise<GrantedBuffer> {
    return Promise.reject(new PlatformError('no dma-buf', 25, 'ENOTTY'));
  }

  bindEventChannel(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): Promise<EventChannel> {
    if (remotePort > 4000) return Promise.reject(new PlatformError(`no port ${remotePort}`, 22, 'EINVAL'));
    const local = this.nextLocalPort++;
    this.handlers.set(remotePort, onEvent);
    this.channels++;
    let open = true;
    return Promise.resolve({
      remoteDomid,
      remotePort,
      localPort: evtchnPort(local),
      notify: () => {
        if (open) this.notified.set(remotePort, (this.notified.get(remotePort) ?? 0) + 1);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.channels--;
        this.handlers.delete(remotePort);
      },
    });
  }

  /** The frontend notifies `remotePort` (its end): our handler runs on a later turn, as an upcall would. */
  fire(remotePort: number): void {
    setImmediate(() => this.handlers.get(remotePort)?.());
  }

  resources(): PlatformResources {
    return {
      grantMappings: this.mappings,
      mappedPages: this.mapped,
      exportedDmaBufs: 0,
      grantedBuffers: this.granted,
      eventChannels: this.channels,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
