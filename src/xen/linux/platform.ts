// XenPlatform on a real Linux domain: grants through /dev/xen/gntdev, be-alloc through
// /dev/xen/gntalloc or gntdev's dma-buf import, event channels through /dev/xen/evtchn. What the
// kernel allows is probed once at start (capabilities.ts) and logged in one line; each operation
// still may fail at run time and then rejects with a PlatformError carrying the kernel's errno.
import { join } from 'node:path';
import { native } from '../../native/addon.js';
import type { NativeAddon } from '../../native/addon.js';
import { GNTDEV_DEFAULT_LIMIT, GNTDEV_DMA_FLAG_COHERENT, GNTDEV_DMA_FLAG_WC } from '../../native/abi.js';
import type { NativeGntalloc, NativeGntdev } from '../../native/xen-devices.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { DomId, EvtchnPort, GrantRefs } from '../../util/ids.js';
import { domId, grantRefs } from '../../util/ids.js';
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
} from '../platform.js';
import { decideCapabilities, readGuestType, type GuestType } from './capabilities.js';
import { asPlatformError, toPlatformError } from './errors.js';
import { EventChannelHub } from './event-channels.js';
import { PlatformHoldings } from '../platform-holdings.js';
import { Errno } from '../../util/errno.js';

export interface LinuxPlatformOptions {
  /** Where the Xen device nodes are; default /dev/xen. */
  readonly devDir?: string;
  /** This domain's id (0 in dom0; a driver domain reads its XenStore `domid`). */
  readonly ownDomid?: number;
  readonly log?: Logger;
  /**
   * Backing of exported dma-bufs: 'none' (default) shares the guest's pages as they are; 'wc' or
   * 'coherent' asks gntdev for DMA-allocated backing for display engines that cannot scan out
   * scattered pages.
   */
  readonly exportBacking?: 'none' | 'wc' | 'coherent';
  /** How long closing an exported dma-buf waits for importers to let go (ms); default 2000. */
  readonly releaseWaitMs?: number;
  /** Restrict event channels to one guest (a process that serves one guest only). */
  readonly restrictToDomid?: number;
  /** For tests: the guest-type file and the addon. */
  readonly guestType?: GuestType;
  readonly addon?: NativeAddon;
}

const { EINVAL, EIO, ENODEV } = Errno;

function checkRefs(refs: GrantRefs, what: string): GrantRefs {
  if (refs.length === 0 || refs.length > GNTDEV_DEFAULT_LIMIT) {
    throw new PlatformError(
      `${what}: ${refs.length} grant refs (1..${GNTDEV_DEFAULT_LIMIT} allowed)`,
      EINVAL,
      'EINVAL',
    );
  }
  return refs;
}

export class LinuxXenPlatform implements XenPlatform {
  readonly ownDomid: DomId;
  readonly capabilities: PlatformCapabilities;
  private readonly n: NativeAddon;
  private readonly log: Logger;
  private readonly held = new PlatformHoldings();
  private readonly exportFlags: number;
  private readonly releaseWaitMs: number;
  private closed = false;

  private constructor(
    private readonly gntdev: NativeGntdev,
    private readonly gntalloc: NativeGntalloc | undefined,
    private readonly hub: EventChannelHub,
    opts: LinuxPlatformOptions,
    n: NativeAddon,
    capabilities: PlatformCapabilities,
  ) {
    this.n = n;
    this.log = opts.log ?? silentLogger();
    this.ownDomid = domId(opts.ownDomid ?? 0);
    this.capabilities = capabilities;
    this.exportFlags =
      opts.exportBacking === 'wc'
        ? GNTDEV_DMA_FLAG_WC
        : opts.exportBacking === 'coherent'
          ? GNTDEV_DMA_FLAG_COHERENT
          : 0;
    this.releaseWaitMs = opts.releaseWaitMs ?? 2000;
  }

  /**
   * Opens gntdev and evtchn (required: without them this is not a usable Xen domain, and the error
   * says why and what to load) and gntalloc (optional), probes, and logs the capability line.
   */
  static open(opts: LinuxPlatformOptions = {}): LinuxXenPlatform {
    const n = opts.addon ?? native();
    const dir = opts.devDir ?? '/dev/xen';
    const log = opts.log ?? silentLogger();
    const gntdev = new n.Gntdev(join(dir, 'gntdev'));
    let gntalloc: NativeGntalloc | undefined;
    let gntallocError: string | undefined;
    let hub: EventChannelHub | undefined;
    try {
      const evtchn = new n.Evtchn(join(dir, 'evtchn'));
      try {
        if (opts.restrictToDomid !== undefined) evtchn.restrictDomid(opts.restrictToDomid);
        hub = new EventChannelHub(
          evtchn,
          (fd, cb) => new n.FdPoller(fd, cb),
          (err) => log.error({ err }, 'event channel dispatch failed'),
        );
      } catch (err) {
        evtchn.close();
        throw err;
      }
      try {
        gntalloc = new n.Gntalloc(join(dir, 'gntalloc'));
      } catch (err) {
        gntallocError = err instanceof Error ? err.message : String(err);
      }
      const caps = decideCapabilities({
        guestType: opts.guestType ?? readGuestType(),
        dmabufProbe: gntdev.probeDmabuf(),
        gntallocError,
      });
      log.info({ capabilities: caps }, `xen platform: ${caps.summary}`);
      if (gntallocError !== undefined) log.info(gntallocError);
      return new LinuxXenPlatform(gntdev, gntalloc, hub, opts, n, caps);
    } catch (err) {
      hub?.close();
      gntalloc?.close();
      gntdev.close();
      throw err;
    }
  }

  async mapGrants(domid: DomId, refs: GrantRefs, opts: { writable: boolean }): Promise<GrantMapping> {
    this.assertOpen();
    const list = checkRefs(refs, 'mapGrants');
    const m = await asPlatformError('mapGrants', () => this.gntdev.mapGrants(domid, list, opts.writable));
    if (this.closed) {
      m.unmap();
      throw new PlatformError('platform closed', EIO, 'EIO');
    }
    const pages = list.length;
    let open = true;
    const mapping: GrantMapping = {
      domid,
      refs,
      writable: opts.writable,
      bytes: new Uint8Array(m.buffer),
      close: () => {
        if (!open) return;
        open = false;
        m.unmap();
        this.held.mappings.delete(mapping);
        this.held.mappedPages -= pages;
      },
    };
    this.held.mappings.add(mapping);
    this.held.mappedPages += pages;
    return mapping;
  }

  async exportDmaBuf(domid: DomId, refs: GrantRefs): Promise<ExportedDmaBuf> {
    this.assertOpen();
    const list = checkRefs(refs, 'exportDmaBuf');
    const fd = await asPlatformError('exportDmaBuf', () => this.gntdev.exportDmabuf(domid, list, this.exportFlags));
    let closing: Promise<void> | undefined;
    const buf: ExportedDmaBuf = {
      fd,
      size: list.length * XEN_PAGE_SIZE,
      close: () => {
        closing ??= this.gntdev
          .releaseExported(fd, this.releaseWaitMs)
          .then((outcome) => {
            if (outcome === 'timeout') {
              this.log.warn(
                { domid, pages: list.length, waitMs: this.releaseWaitMs },
                'an exported guest buffer is still held by the display driver; its grants stay mapped until it lets go',
              );
            }
          })
          .catch((err: unknown) =>
            this.log.error({ err: toPlatformError(err, 'release dma-buf') }, 'releasing an exported dma-buf failed'),
          )
          .finally(() => this.held.exports.delete(buf));
        return closing;
      },
    };
    this.held.exports.add(buf);
    if (this.closed) {
      await buf.close();
      throw new PlatformError('platform closed', EIO, 'EIO');
    }
    return buf;
  }

  async allocGranted(domid: DomId, pages: number): Promise<GrantedBuffer> {
    this.assertOpen();
    if (this.gntalloc === undefined) {
      throw new PlatformError(
        'allocGranted: /dev/xen/gntalloc is not available (modprobe xen-gntalloc)',
        ENODEV,
        'ENODEV',
      );
    }
    if (!Number.isInteger(pages) || pages <= 0)
      throw new PlatformError(`allocGranted: bad page count ${pages}`, EINVAL, 'EINVAL');
    const gntalloc = this.gntalloc;
    const a = await asPlatformError('allocGranted', () => gntalloc.alloc(domid, pages, true));
    let open = true;
    const buf: GrantedBuffer = {
      domid,
      refs: grantRefs(a.refs),
      bytes: new Uint8Array(a.mapping.buffer),
      close: () => {
        if (!open) return;
        open = false;
        a.mapping.unmap();
        this.held.granted.delete(buf);
      },
    };
    this.held.granted.add(buf);
    return buf;
  }

  async importDmaBuf(fd: number, domid: DomId, pages: number): Promise<GrantedBuffer> {
    this.assertOpen();
    if (!Number.isInteger(pages) || pages <= 0 || pages > GNTDEV_DEFAULT_LIMIT) {
      throw new PlatformError(`importDmaBuf: bad page count ${pages}`, EINVAL, 'EINVAL');
    }
    // gntdev finds the import again by fd number at release: keep a number of our own.
    const own = await asPlatformError('importDmaBuf', () => this.n.dupFd(fd));
    let refs: Uint32Array;
    try {
      refs = await asPlatformError('importDmaBuf', () => this.gntdev.importToRefs(own, domid, pages));
    } catch (err) {
      this.n.closeDevice(own);
      throw err;
    }
    let open = true;
    const buf: GrantedBuffer = {
      domid,
      refs: grantRefs(refs),
      bytes: undefined,
      close: () => {
        if (!open) return;
        open = false;
        try {
          this.gntdev.importRelease(own);
        } catch (err) {
          this.log.error(
            { err: toPlatformError(err, 'importRelease') },
            'ending a guest’s access to an imported buffer failed',
          );
        }
        this.n.closeDevice(own);
        this.held.granted.delete(buf);
      },
    };
    this.held.granted.add(buf);
    return buf;
  }

  async bindEventChannel(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): Promise<EventChannel> {
    this.assertOpen();
    const inner = await asPlatformError('bindEventChannel', () => this.hub.bind(remoteDomid, remotePort, onEvent));
    let open = true;
    const ch: EventChannel = {
      remoteDomid: inner.remoteDomid,
      remotePort: inner.remotePort,
      localPort: inner.localPort,
      notify: () => inner.notify(),
      close: () => {
        if (!open) return;
        open = false;
        try {
          inner.close();
        } finally {
          this.held.channels.delete(ch);
        }
      },
    };
    this.held.channels.add(ch);
    return ch;
  }

  resources(): PlatformResources {
    return this.held.resources();
  }

  /** Releases everything still held, waits for exported buffers, then closes the devices. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.held.channels]) c.close();
    for (const m of [...this.held.mappings]) m.close();
    for (const g of [...this.held.granted]) g.close();
    await Promise.all([...this.held.exports].map((e) => e.close()));
    this.hub.close();
    this.gntalloc?.close();
    this.gntdev.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new PlatformError('platform closed', EIO, 'EIO');
  }
}
