// The KMS output backend: one DRM card, an output per connected connector (named as the kernel
// names it, e.g. HDMI-A-1), each on a CRTC of its own. It holds DRM master while it can; when
// another process takes the display every output pauses (guests keep running, their flips are
// dropped) and a slow poll takes master back and restores the guests' modes. On close it puts back
// what the CRTCs showed before. Monitors come and go while it runs (hotplug.ts notices): an
// unplugged connector's output is parked with its guest's configuration and comes back, as the
// same object, when a monitor is plugged in again; a connector plugged in for the first time gets
// an output if a CRTC is free. Both are told as the seam's output-removed/output-added events.
import { closeSync } from 'node:fs';
import { native } from '../../native/addon.js';
import type { DrmCrtc, DrmModeInfo, DrmResources, NativeDrmDevice } from '../../native/drm-device.js';
import { POLL_READABLE, type NativeFdPoller } from '../../native/fd.js';
import { emitter } from '../../util/events.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { DomId } from '../../util/ids.js';
import { grantRefs } from '../../util/ids.js';
import { XEN_PAGE_SIZE, type GrantedBuffer, type XenPlatform } from '../../xen/platform.js';
import type { DrawBuffer, Output, OutputBackend, OutputBackendEvents, OutputBackendResources } from '../output.js';
import type { Size } from '../../util/geometry.js';
import { describeCaps, openCard, type CardDeps, type CardInfo } from './card.js';
import { AtomicCommitter } from './atomic-committer.js';
import type { Committer } from './commit.js';
import { FallbackStats } from './fallbacks.js';
import { HotplugWatch, sysfsStatuses, type ConnectorStatuses } from './hotplug.js';
import { KmsOutput } from './kms-output.js';
import { LegacyCommitter } from './legacy-committer.js';
import { OwnBuffers } from './own-buffers.js';
import { assignPipes, isUsable, type Pipe } from './topology.js';
import { ZeroCopyImporter } from './zero-copy.js';

export interface KmsBackendOptions {
  /** A card path, or 'auto' (default): the first card that can show guests. */
  readonly card?: string;
  /** Use atomic modesetting where the card grants it (default true). */
  readonly atomic?: boolean;
  /** Scale guest screens that match no mode, where a plane can (default true). */
  readonly scale?: boolean;
  readonly log?: Logger;
  /**
   * The operator's zero-copy switch (default on). Read when a framebuffer is first shown: turning it
   * off copies framebuffers attached afterwards; those already planned keep their path.
   */
  readonly zeroCopy?: () => boolean;
  /** How often to try to take DRM master back after losing it (ms, default 1000). */
  readonly masterRetryMs?: number;
  /** How often to look at the connectors' status for a monitor plugged in or out (ms, default 1000; 0: never). */
  readonly hotplugPollMs?: number;
  /** For tests: the connectors' status as the kernel knows it (default: sysfs). */
  readonly connectorStatuses?: () => Promise<ConnectorStatuses>;
  /** For tests: device access and the poller. */
  readonly cardDeps?: CardDeps;
  readonly makePoller?: (fd: number, onReady: (status: number, events: number) => void) => NativeFdPoller;
  /** Closes a PRIME fd of ours (default: close(2)). */
  readonly closeFd?: (fd: number) => void;
}

interface Saved {
  readonly pipe: Pipe;
  readonly crtc: DrmCrtc;
  readonly connectors: number[];
}

export class KmsBackend implements OutputBackend {
  readonly kind = 'kms';
  readonly events = emitter<OutputBackendEvents>();
  /** Outputs whose monitor is connected, in the order they came. */
  private readonly byName = new Map<string, KmsOutput>();
  private readonly list: KmsOutput[] = [];
  /** Outputs whose monitor was unplugged, by connector name: they come back when it does. */
  private readonly parked = new Map<string, KmsOutput>();
  private readonly tokens = new Map<number, KmsOutput>();
  /** What each CRTC we drove showed before us, by CRTC id (the first time we took it). */
  private readonly saved = new Map<number, Saved>();
  /** Connectors already said to have no free CRTC. */
  private readonly unservedSaid = new Set<string>();
  private readonly hotplug: HotplugWatch | undefined;
  private readonly own = new OwnBuffers();
  private readonly ownGranted = new Set<GrantedBuffer>();
  private readonly importer: ZeroCopyImporter;
  private readonly committer: Committer;
  private readonly poller: NativeFdPoller;
  readonly fallbacks: FallbackStats;
  private readonly closeFd: (fd: number) => void;
  private nextToken = 1;
  private master: boolean;
  private retry: NodeJS.Timeout | undefined;
  private beAllocNote = false;
  private holdOffUntil = 0;
  private closed = false;

  private constructor(
    private readonly dev: NativeDrmDevice,
    readonly card: CardInfo,
    private readonly log: Logger,
    private readonly opts: KmsBackendOptions,
  ) {
    this.closeFd = opts.closeFd ?? closeSync;
    const caps = card.caps;
    const { pipes, unserved } = assignPipes(card.resources);
    for (const c of unserved)
      log.warn({ connector: c.name }, `${c.name}: no free CRTC can drive it; not offered as an output`);
    let committer: Committer = new LegacyCommitter(dev);
    if (caps.atomic) {
      const atomic = new AtomicCommitter(dev);
      const refused = pipes.map((p) => atomic.adopt(p)).find((r) => r !== true);
      if (refused === undefined) committer = atomic;
      else log.warn(`${card.path}: atomic granted but unusable (${refused}); using legacy modesetting`);
    }
    this.committer = committer;
    this.fallbacks = new FallbackStats((reason) =>
      log.info({ reason }, `a guest framebuffer is copied instead of scanned out as a dma-buf: ${reason}`),
    );
    const formats = new Set<number>();
    for (const p of pipes) for (const f of p.plane?.formats ?? []) formats.add(f);
    const onError = (err: unknown, what: string): void => log.warn({ err }, `kms: ${what} failed`);
    this.importer = new ZeroCopyImporter(dev, caps, this.own, formats, this.fallbacks, onError, opts.zeroCopy);
    for (const pipe of pipes) {
      this.save(pipe, card.resources);
      this.serve(this.makeOutput(pipe));
    }
    const makePoller = opts.makePoller ?? ((fd, cb) => new (native().FdPoller)(fd, cb));
    this.poller = makePoller(dev.fd, (status) => this.onReadable(status));
    this.poller.start(POLL_READABLE);
    this.master = this.takeMaster();
    log.info(
      { card: card.path, driver: card.driver.name, modesetting: committer.kind, outputs: this.list.map((o) => o.name) },
      `kms: ${card.path} (${card.driver.name}): ${describeCaps(caps)}; ${committer.kind} modesetting; outputs ${this.list.map((o) => o.name).join(', ') || 'none'}`,
    );
    if (!this.master) {
      log.warn(`kms: ${card.path}: another process holds DRM master; outputs stay dark until it lets go`);
      this.pauseAll();
    }
    const every = opts.hotplugPollMs ?? 1000;
    if (every > 0) {
      this.hotplug = new HotplugWatch(
        opts.connectorStatuses ?? (() => sysfsStatuses(card.path)),
        () => this.rescan(),
        every,
      );
      this.hotplug.start();
    }
  }

  static open(opts: KmsBackendOptions = {}): KmsBackend {
    const log = opts.log ?? silentLogger();
    const { dev, info } = openCard(opts.card ?? 'auto', { atomic: opts.atomic ?? true }, opts.cardDeps);
    try {
      return new KmsBackend(dev, info, log, opts);
    } catch (err) {
      dev.close();
      throw err;
    }
  }

  /** Whether this process holds DRM master now. */
  get isMaster(): boolean {
    return this.master;
  }

  get modesetting(): 'atomic' | 'legacy' {
    return this.committer.kind;
  }

  outputs(): readonly Output[] {
    return this.list;
  }

  output(name: string): Output | undefined {
    return this.byName.get(name);
  }

  /**
   * be-alloc memory: a dumb buffer of this card, granted to the guest through gntdev's dma-buf
   * import, so its framebuffers scan out with no copy at all; where that is not possible, the
   * platform's gntalloc pages (shown by copying).
   */
  async allocateGuestBuffer(platform: XenPlatform, domid: DomId, size: number): Promise<GrantedBuffer> {
    const pages = Math.ceil(size / XEN_PAGE_SIZE);
    const why = this.dumbImportUnavailable(platform);
    if (why === undefined) {
      try {
        return await this.allocDumbGranted(platform, domid, pages);
      } catch (err) {
        this.noteBeAlloc(`dumb buffer import refused (${err instanceof Error ? err.message : String(err)})`);
      }
    } else {
      this.noteBeAlloc(why);
    }
    return platform.allocGranted(domid, pages);
  }

  /**
   * A dumb buffer of this card for a picture dom0 draws (a composed layout): registered as our own,
   * so a framebuffer over it is scanned out from its GEM handle as it is, with no copy.
   */
  allocateDrawBuffer(size: Size): DrawBuffer | undefined {
    if (this.closed || !this.card.caps.dumbBuffers) return undefined;
    let dumb;
    try {
      dumb = this.dev.createDumb(size.width, size.height, 32);
    } catch (err) {
      this.log.warn(
        { err },
        `kms: no dumb buffer of ${size.width}x${size.height} to compose into; composing in memory`,
      );
      return undefined;
    }
    let mapping;
    try {
      mapping = this.dev.mapDumb(dumb.handle, dumb.size);
    } catch (err) {
      this.dev.destroyDumb(dumb.handle);
      this.log.warn({ err }, 'kms: a dumb buffer to compose into cannot be mapped; composing in memory');
      return undefined;
    }
    const memory = mapping.buffer;
    const map = mapping;
    const handle = dumb.handle;
    this.own.add(memory, { handle, size: dumb.size });
    let open = true;
    return {
      bytes: new Uint8Array(memory, 0, dumb.pitch * size.height),
      pitch: dumb.pitch,
      close: () => {
        if (!open) return;
        open = false;
        this.own.remove(memory);
        map.unmap();
        try {
          if (!this.closed) this.dev.destroyDumb(handle);
        } catch (err) {
          this.log.warn({ err }, 'kms: destroying a dumb buffer composed into failed');
        }
      },
    };
  }

  /** Guest bytes the copy path has read since start, by output name (every output, 0 if none). */
  copiedBytes(): Record<string, number> {
    return Object.fromEntries(this.every().map((o) => [o.name, o.copiedBytes]));
  }

  resources(): OutputBackendResources {
    return {
      framebuffers: this.importer.liveFramebuffers,
      dmaBufImports: this.importer.liveImports,
      dumbBuffers: this.own.size + this.every().reduce((n, o) => n + o.dumbBuffers, 0),
    };
  }

  /**
   * Reads the card's connectors again (a probe) and follows what changed: a served connector no
   * longer connected is unplugged (its output parked: output-removed); a connected one not served
   * gets a CRTC if one is free (its parked output back, or a new one: output-added). The hot-plug
   * watch calls it when a connector's status changes; tests may too.
   */
  rescan(): void {
    if (this.closed) return;
    let res: DrmResources;
    try {
      res = this.dev.resources();
    } catch (err) {
      this.log.warn({ err }, `kms: re-reading ${this.card.path}'s connectors failed`);
      return;
    }
    for (const out of [...this.list]) {
      const c = res.connectors.find((x) => x.name === out.name);
      if (!c || !isUsable(c)) this.unplug(out, false);
      // Another monitor on the connector between two looks: taken down and back, with its own modes.
      else if (!sameModes(c.modes, out.currentPipe.connector.modes)) this.unplug(out, true);
    }
    const pipesInUse = this.list.map((o) => o.currentPipe);
    const { pipes, unserved } = assignPipes(res, {
      crtcs: new Set(pipesInUse.map((p) => p.crtc.id)),
      planes: new Set(pipesInUse.flatMap((p) => [...(p.plane ? [p.plane.id] : []), ...p.overlays.map((o) => o.id)])),
      connectors: new Set(this.list.map((o) => o.name)),
    });
    for (const c of unserved) {
      if (this.unservedSaid.has(c.name)) continue;
      this.unservedSaid.add(c.name);
      this.log.warn(
        { connector: c.name },
        `${c.name}: connected, but no free CRTC can drive it; not offered as an output`,
      );
    }
    for (const pipe of pipes) this.plug(pipe, res);
  }

  /** Routes drained events to their outputs; exposed so tests can drive the poller. */
  onReadable(status: number): void {
    if (this.closed) return;
    if (status < 0) {
      this.log.error({ errno: -status }, `kms: polling ${this.card.path} failed`);
      return;
    }
    let events;
    try {
      events = this.dev.handleEvents();
    } catch (err) {
      this.log.error({ err }, 'kms: reading DRM events failed');
      return;
    }
    for (const ev of events) this.tokens.get(ev.userData)?.onFlipEvent(ev);
  }

  /**
   * Hands the display to another process (a VT switch, an operator's tool): the outputs pause, and
   * after `holdOffMs` the usual poll takes master back once the other process lets go.
   */
  yieldMaster(holdOffMs = 0): void {
    if (this.closed || !this.master) return;
    this.master = false;
    try {
      this.dev.dropMaster();
    } catch (err) {
      this.log.warn({ err }, `kms: dropping DRM master on ${this.card.path} failed`);
    }
    this.log.info(`kms: DRM master handed over on ${this.card.path}: scanout paused`);
    this.holdOffUntil = Date.now() + holdOffMs;
    this.pauseAll();
  }

  /** One attempt to take DRM master back (the retry timer calls it; tests may too). */
  tryRegainMaster(): boolean {
    if (this.closed || this.master) return this.master;
    if (Date.now() < this.holdOffUntil) return false;
    if (!this.takeMaster()) return false;
    this.master = true;
    if (this.retry) clearInterval(this.retry);
    this.retry = undefined;
    this.log.info(`kms: DRM master regained on ${this.card.path}: restoring the guests' modes`);
    for (const o of this.list)
      o.resume().catch((err: unknown) => this.log.warn({ err, output: o.name }, 'restoring an output failed'));
    return true;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.retry) clearInterval(this.retry);
    this.hotplug?.close();
    for (const o of this.every()) o.close();
    if (this.master) this.restoreCrtcs();
    for (const g of [...this.ownGranted]) g.close();
    this.importer.close();
    this.committer.close();
    this.poller.close();
    this.tokens.clear();
    this.dev.close();
    return Promise.resolve();
  }

  /** Connected outputs and parked ones. */
  private every(): KmsOutput[] {
    return [...this.list, ...this.parked.values()];
  }

  private makeOutput(pipe: Pipe): KmsOutput {
    const out = new KmsOutput({
      dev: this.dev,
      pipe,
      committer: this.committer,
      importer: this.importer,
      stats: this.fallbacks,
      log: this.log,
      scale: this.opts.scale ?? true,
      issueToken: (o) => this.issue(o),
      forgetToken: (t) => this.tokens.delete(t),
    });
    out.events.on('master-lost', (err) => this.masterLost(err));
    return out;
  }

  private serve(out: KmsOutput): void {
    this.list.push(out);
    this.byName.set(out.name, out);
  }

  /** Records what the pipe's CRTC shows before we first drive it, for close() to put back. */
  private save(pipe: Pipe, res: DrmResources): void {
    if (this.saved.has(pipe.crtc.id)) return;
    const crtc = this.dev.getCrtc(pipe.crtc.id);
    const connectors = res.connectors
      .filter((c) => res.encoders.find((e) => e.id === c.encoderId)?.crtcId === crtc.id)
      .map((c) => c.id);
    this.saved.set(crtc.id, { pipe, crtc, connectors });
  }

  /** `swapped`: another monitor (other modes, no unplug seen); it is plugged again in the same rescan. */
  private unplug(out: KmsOutput, swapped: boolean): void {
    out.unplug();
    this.list.splice(this.list.indexOf(out), 1);
    this.byName.delete(out.name);
    this.parked.set(out.name, out);
    this.log.info(
      { output: out.name },
      swapped
        ? `kms: ${out.name} has another monitor (other modes, no unplug seen): output set up again for it`
        : `kms: ${out.name} unplugged: output parked until a monitor is plugged in again`,
    );
    this.events.emit('output-removed', out, swapped);
  }

  private plug(pipe: Pipe, res: DrmResources): void {
    const name = pipe.connector.name;
    const why = this.committer.adopt(pipe);
    if (why !== true) {
      this.log.warn({ connector: name }, `${name}: connected, but cannot be driven (${why}); not offered as an output`);
      return;
    }
    try {
      this.save(pipe, res);
    } catch (err) {
      this.log.warn(
        { err, connector: name },
        `${name}: connected, but its CRTC cannot be read; not offered as an output`,
      );
      return;
    }
    this.unservedSaid.delete(name);
    let out = this.parked.get(name);
    if (out) {
      this.parked.delete(name);
      const o = out;
      out
        .plug(pipe, !this.master)
        .catch((err: unknown) => this.log.warn({ err, output: o.name }, 'showing the guest again failed'));
    } else {
      out = this.makeOutput(pipe);
      if (!this.master) out.pause();
    }
    this.serve(out);
    this.log.info({ output: name, crtc: pipe.crtc.id }, `kms: ${name} plugged in: an output on CRTC ${pipe.crtc.id}`);
    this.events.emit('output-added', out);
  }

  private issue(o: KmsOutput): number {
    // u32, never 0, never one still in use.
    do this.nextToken = (this.nextToken % 0xffffffff) + 1;
    while (this.tokens.has(this.nextToken));
    this.tokens.set(this.nextToken, o);
    return this.nextToken;
  }

  private takeMaster(): boolean {
    try {
      this.dev.setMaster();
    } catch {
      // Already master (some kernels refuse a second SET_MASTER) or someone else is: ask.
    }
    return this.dev.isMaster();
  }

  private masterLost(err: unknown): void {
    if (!this.master || this.closed) return;
    this.master = false;
    this.log.warn(
      { err },
      `kms: lost DRM master on ${this.card.path} (another process took the display): scanout paused`,
    );
    this.pauseAll();
  }

  private pauseAll(): void {
    for (const o of this.list) o.pause();
    if (this.retry === undefined) {
      this.retry = setInterval(() => this.tryRegainMaster(), this.opts.masterRetryMs ?? 1000);
      this.retry.unref();
    }
  }

  /** Puts back what each CRTC we used showed when we started (fbcon, a login screen). */
  private restoreCrtcs(): void {
    for (const s of this.saved.values()) {
      try {
        if (s.crtc.mode !== null && s.crtc.bufferId !== 0 && s.connectors.length > 0) {
          this.dev.setCrtc(s.crtc.id, s.crtc.bufferId, s.crtc.x, s.crtc.y, s.connectors, s.crtc.mode);
        } else {
          this.committer.disable(s.pipe);
        }
      } catch (err) {
        this.log.warn({ err, crtc: s.crtc.id }, 'kms: could not restore a CRTC; turning it off');
        try {
          this.committer.disable(s.pipe);
        } catch {
          /* nothing more to do */
        }
      }
    }
  }

  private dumbImportUnavailable(platform: XenPlatform): string | undefined {
    if (!platform.capabilities.dmabufImport)
      return 'the platform cannot grant dma-buf pages (no gntdev dma-buf import)';
    if (!this.card.caps.dumbBuffers) return 'the card has no dumb buffers';
    if (!this.card.caps.primeExport) return 'the card cannot export dumb buffers (no PRIME export)';
    return undefined;
  }

  private noteBeAlloc(why: string): void {
    if (this.beAllocNote) return;
    this.beAllocNote = true;
    this.log.info(`kms: be-alloc buffers come from gntalloc and are copied: ${why}`);
  }

  private async allocDumbGranted(platform: XenPlatform, domid: DomId, pages: number): Promise<GrantedBuffer> {
    // 1024 XRGB8888 pixels per row: one 4 KiB page per row on drivers that do not pad the pitch.
    const dumb = this.dev.createDumb(1024, pages, 32);
    let mapping;
    let fd = -1;
    try {
      if (dumb.size % XEN_PAGE_SIZE !== 0) throw new Error(`dumb buffer of ${dumb.size} bytes is not whole pages`);
      const count = dumb.size / XEN_PAGE_SIZE;
      mapping = this.dev.mapDumb(dumb.handle, dumb.size);
      fd = this.dev.primeHandleToFd(dumb.handle);
      const imported = await platform.importDmaBuf(fd, domid, count);
      this.closeFd(fd);
      fd = -1;
      const memory = mapping.buffer;
      const map = mapping;
      this.own.add(memory, { handle: dumb.handle, size: dumb.size });
      let open = true;
      const buf: GrantedBuffer = {
        domid,
        // The guest gets the pages its buffer needs; extra pages of the allocation stay unused.
        refs: grantRefs(imported.refs.subarray(0, pages)),
        bytes: new Uint8Array(memory, 0, pages * XEN_PAGE_SIZE),
        close: () => {
          if (!open) return;
          open = false;
          imported.close();
          this.own.remove(memory);
          map.unmap();
          try {
            if (!this.closed) this.dev.destroyDumb(dumb.handle);
          } catch (err) {
            this.log.warn({ err }, 'kms: destroying a be-alloc dumb buffer failed');
          }
          this.ownGranted.delete(buf);
        },
      };
      this.ownGranted.add(buf);
      return buf;
    } catch (err) {
      if (fd >= 0) this.closeFd(fd);
      mapping?.unmap();
      this.dev.destroyDumb(dumb.handle);
      throw err;
    }
  }
}

/** The same modes in the same order (a monitor's list, as the connector reports it). */
function sameModes(a: readonly DrmModeInfo[], b: readonly DrmModeInfo[]): boolean {
  return a.length === b.length && a.every((m, i) => JSON.stringify(m) === JSON.stringify(b[i]));
}
