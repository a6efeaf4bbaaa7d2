// XenPlatform for a backend running in a simulated domain (dom0 or a driver domain).
//
// - Grant maps are checked by the simulated hypervisor exactly as Xen checks them and fail with
//   PlatformError{errno: EINVAL, code: 'GNTST_…', gntst} — EINVAL being what Linux's gntdev
//   reports for any failed grant. The mapping is the guest's own pages: zero-copy.
// - be-alloc (allocGranted) takes pages of this domain's memory and grants them, writable, to
//   the guest, like gntalloc; close() ends access at once or, while the guest still maps them,
//   as soon as it unmaps (gntalloc's deferred release).
// - dma-buf: the simulated kernel is by default built without CONFIG_XEN_GNTDEV_DMABUF (as
//   stock Debian kernels are), so exportDmaBuf/importDmaBuf fail with ENOTTY and the backend
//   takes its copy path. With `dmabuf: 'contiguous'` exportDmaBuf returns an fd on the guest's
//   memory file and the byte `offset` of the buffer in it (a real dma-buf has offset 0); the
//   pages stay pinned until close(). The simulator cannot see who mapped that fd, so close()
//   resolves at once: importers must unmap first, as the backend's tear-down order requires.
//   Import (IMP_TO_REFS) is never available: be-alloc goes through allocGranted.
import { closeSync, openSync } from 'node:fs';
import type { DomId, EvtchnPort, GrantRef, GrantRefs } from '../util/ids.js';
import { domId, evtchnPort, grantRefsOf } from '../util/ids.js';
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
} from '../xen/platform.js';
import { DomainKernel } from './domain-kernel.js';
import { PlatformHoldings } from '../xen/platform-holdings.js';
import { ramPath } from './hv/paths.js';
import { Errno } from '../util/errno.js';

const { EINVAL, ENOMEM, ENOTTY } = Errno;

export interface SimPlatformOptions {
  /** The simulated host's directory (SimHost.dir). */
  readonly dir: string;
  /** The domain the backend runs in; 0 for dom0. */
  readonly domid?: number;
  /** 'none' (default): no dma-buf ioctls; 'contiguous': export refs that map consecutive frames. */
  readonly dmabuf?: 'none' | 'contiguous';
}

/** An exported simulated dma-buf: `offset` is where the buffer starts in `fd`. */
export interface SimExportedDmaBuf extends ExportedDmaBuf {
  readonly offset: number;
}

export class SimPlatform implements XenPlatform {
  readonly ownDomid: DomId;
  readonly capabilities: PlatformCapabilities;
  private readonly held = new PlatformHoldings();
  private closed = false;

  private constructor(
    readonly kernel: DomainKernel,
    private readonly dmabuf: 'none' | 'contiguous',
  ) {
    this.ownDomid = domId(kernel.domid);
    const exp = dmabuf === 'contiguous';
    this.capabilities = {
      dmabufExport: exp,
      dmabufImport: false,
      grantAlloc: true,
      maptrackEntriesPerPage: 1,
      summary: exp
        ? 'simulated Xen: grant maps, gntalloc; dma-buf export of consecutive frames (fd + offset); no dma-buf import'
        : 'simulated Xen: grant maps, gntalloc; no dma-buf export/import (like a kernel without CONFIG_XEN_GNTDEV_DMABUF)',
    };
  }

  static async connect(opts: SimPlatformOptions): Promise<SimPlatform> {
    const kernel = await DomainKernel.connect(opts.dir, opts.domid ?? 0);
    return new SimPlatform(kernel, opts.dmabuf ?? 'none');
  }

  async mapGrants(domid: DomId, refs: GrantRefs, opts: { writable: boolean }): Promise<GrantMapping> {
    this.assertOpen();
    const m = await this.kernel.mapForeign(domid, refs, opts.writable);
    if (this.closed) {
      m.close();
      throw new PlatformError('platform closed', 5, 'EIO');
    }
    let open = true;
    const mapping: GrantMapping = {
      domid,
      refs,
      writable: m.writable,
      bytes: m.bytes,
      close: () => {
        if (!open) return;
        open = false;
        m.close();
        this.held.mappings.delete(mapping);
        this.held.mappedPages -= m.refs.length;
      },
    };
    this.held.mappings.add(mapping);
    this.held.mappedPages += m.refs.length;
    return mapping;
  }

  async copyFromGrant(domid: DomId, ref: GrantRef, length: number): Promise<Uint8Array> {
    this.assertOpen();
    if (!Number.isInteger(length) || length < 0 || length > XEN_PAGE_SIZE) {
      throw new PlatformError(`copyFromGrant: bad length ${length}`, EINVAL, 'EINVAL');
    }
    const page = await this.kernel.copyForeignPage(domid, ref);
    return page.subarray(0, length);
  }

  async exportDmaBuf(domid: DomId, refs: GrantRefs): Promise<SimExportedDmaBuf> {
    this.assertOpen();
    if (this.dmabuf !== 'contiguous') {
      throw new PlatformError(
        'dma-buf export: ENOTTY (the simulated kernel has no CONFIG_XEN_GNTDEV_DMABUF); use the copy path',
        ENOTTY,
        'ENOTTY',
      );
    }
    // EXP_FROM_REFS maps the grants read-write.
    const m = await this.kernel.mapForeign(domid, refs, true);
    // A simulated dma-buf is the guest's memory file and an offset: it can only stand for frames
    // that lie end to end there. Others are refused, and the importer takes its copy path.
    for (let i = 1; i < m.frames.length; i++) {
      if (m.frames[i] !== m.frames[0]! + i) {
        m.close();
        throw new PlatformError(
          'dma-buf export: the granted frames are not consecutive, which a simulated dma-buf (fd + offset) cannot describe',
          95,
          'SIM_NONCONTIGUOUS',
        );
      }
    }
    let fd: number;
    try {
      fd = openSync(ramPath(this.kernel.dir, domid), 'r+');
    } catch (err) {
      m.close();
      throw new PlatformError(`dma-buf export: ${(err as Error).message}`, ENOMEM, 'ENOMEM');
    }
    // The importer maps the fd itself; our mapping only holds the pins, as the exporting
    // gntdev keeps the grants mapped while the dma-buf lives.
    let open = true;
    const buf: SimExportedDmaBuf = {
      fd,
      size: refs.length * XEN_PAGE_SIZE,
      offset: m.frames[0]! * XEN_PAGE_SIZE,
      close: () => {
        if (open) {
          open = false;
          closeSync(fd);
          m.close();
          this.held.exports.delete(buf);
        }
        return Promise.resolve();
      },
    };
    this.held.exports.add(buf);
    return buf;
  }

  async allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer> {
    this.assertOpen();
    if (!Number.isInteger(pages) || pages <= 0)
      throw new PlatformError(`allocGranted: bad page count ${pages}`, EINVAL, 'EINVAL');
    const own = await this.kernel.allocPages(pages);
    let refs: number[];
    try {
      refs = await this.kernel.allocRefs(pages);
    } catch (err) {
      own.unmap();
      this.kernel.freePages(own.first, pages);
      throw err;
    }
    for (let i = 0; i < pages; i++) this.kernel.grantAccess(refs[i]!, domid, own.first + i, false);
    let open = true;
    const buf: GrantedBuffer = {
      domid,
      refs: grantRefsOf(refs),
      bytes: own.bytes,
      close: () => {
        if (!open) return;
        open = false;
        own.unmap();
        this.kernel.releaseDeferred(own.first, pages, refs);
        this.held.granted.delete(buf);
      },
    };
    this.held.granted.add(buf);
    return buf;
  }

  importDmaBuf(_fd: number, _domid: DomId, _pages: number): Promise<GrantedBuffer> {
    return Promise.reject(
      new PlatformError(
        'dma-buf import: ENOTTY (the simulated kernel has no dma-buf import); use allocGranted',
        ENOTTY,
        'ENOTTY',
      ),
    );
  }

  async bindEventChannel(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): Promise<EventChannel> {
    this.assertOpen();
    const port = await this.kernel.bindInterdomain(remoteDomid, remotePort);
    let open = true;
    // Registered right after the bind reply, which arrives before the event the bind sets.
    this.kernel.hv.listen(port, onEvent);
    const ch: EventChannel = {
      remoteDomid,
      remotePort,
      localPort: evtchnPort(port),
      notify: () => {
        if (open) this.kernel.notify(port);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.kernel.closePort(port);
        this.held.channels.delete(ch);
      },
    };
    this.held.channels.add(ch);
    return ch;
  }

  resources(): PlatformResources {
    return this.held.resources();
  }

  /** Resolves when the hypervisor has processed every unmap/unbind sent so far. */
  sync(): Promise<void> {
    return this.kernel.sync();
  }

  /** Releases everything still held (as closing the device files would), then disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of [...this.held.mappings]) m.close();
    for (const e of [...this.held.exports]) await e.close();
    for (const g of [...this.held.granted]) g.close();
    for (const c of [...this.held.channels]) c.close();
    try {
      await this.kernel.sync();
    } catch {
      /* the hypervisor is gone: nothing left to release */
    }
    this.kernel.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new PlatformError('platform closed', 5, 'EIO');
  }
}
