// Zero-copy per framebuffer: the guest's pages exported as a dma-buf (gntdev), imported by the
// display driver (PRIME), wrapped as a DRM framebuffer with the guest's own pitch and data offset
// (ADDFB2 pitches[0], offsets[0]). Every step may be refused — no CONFIG_XEN_GNTDEV_DMABUF, an x86
// PV domain, a driver without PRIME import or one that needs aligned pitches — and each refusal
// makes that one framebuffer take the copy path, with the reason counted.
import { fourccToString } from '../../displif/formats.js';
import type { NativeDrmDevice } from '../../native/drm-device.js';
import { isNativeError } from '../../native/errors.js';
import type { ExportedDmaBuf } from '../../xen/platform.js';
import { PlatformError } from '../../xen/platform.js';
import type { BufferSource, FramebufferDesc } from '../output.js';
import type { CardCaps } from './card.js';
import type { FallbackStats } from './fallbacks.js';
import type { OwnBuffers } from './own-buffers.js';

/** The copy reason when the operator turned zero-copy off (zero-copy = off). */
export const ZERO_COPY_DISABLED = 'disabled by configuration';
/**
 * Why a composed layout's frame is copied into the card's buffer: it was composed in dom0's memory
 * (the card gave no dumb buffer to compose into).
 */
export const COMPOSED_IN_DOM0 = "a layout composed in dom0's memory (copied into the card's buffer)";

export type ScanoutPlan =
  { readonly kind: 'zero-copy'; readonly fbId: number } | { readonly kind: 'copy'; readonly reason: string };

interface Import {
  readonly dmabuf: ExportedDmaBuf;
  readonly handle: number;
  users: number;
}

interface Entry {
  plan?: Promise<ScanoutPlan>;
  /** Set once the plan resolved to zero-copy. */
  fbId?: number;
  source?: BufferSource;
  dropped: boolean;
}

function codeOf(err: unknown): string {
  if (isNativeError(err) || err instanceof PlatformError) return err.code;
  return 'error';
}

export class ZeroCopyImporter {
  private readonly entries = new Map<number, Entry>();
  private readonly imports = new Map<BufferSource, Import | Promise<Import>>();
  private framebuffers = 0;

  constructor(
    private readonly dev: NativeDrmDevice,
    private readonly caps: CardCaps,
    private readonly own: OwnBuffers,
    /** FourCCs the primary planes take; empty when the card does not say. */
    private readonly planeFormats: ReadonlySet<number>,
    private readonly stats: FallbackStats,
    private readonly onError: (err: unknown, what: string) => void,
    /** The operator's zero-copy switch, read when a framebuffer is first planned (so a change applies to new ones). */
    private readonly enabled: () => boolean = () => true,
  ) {}

  /** DRM framebuffers created for guests and not yet removed. */
  get liveFramebuffers(): number {
    return this.framebuffers;
  }

  get liveImports(): number {
    return this.imports.size;
  }

  /** How `fb` is scanned out; decided once per framebuffer (and counted once when copied). */
  plan(fb: FramebufferDesc): Promise<ScanoutPlan> {
    const known = this.entries.get(fb.id)?.plan;
    if (known) return known;
    const entry: Entry = { dropped: false };
    this.entries.set(fb.id, entry);
    const plan = this.decide(fb, entry).then((p) => {
      if (p.kind === 'copy') this.stats.count(p.reason);
      return p;
    });
    entry.plan = plan;
    return plan;
  }

  /** The DRM framebuffer of `fb` where its plan came out zero-copy already, now; else undefined. */
  fbIdOf(fb: FramebufferDesc): number | undefined {
    return this.entries.get(fb.id)?.fbId;
  }

  /**
   * Frees what `fb` holds (its DRM framebuffer, and the import when no other framebuffer uses it).
   * The caller makes sure it is neither on screen nor in a pending flip. Idempotent.
   */
  drop(fb: FramebufferDesc): void {
    const e = this.entries.get(fb.id);
    if (!e) return;
    this.entries.delete(fb.id);
    e.dropped = true;
    this.freeEntry(e);
  }

  /** Drops everything (device close). */
  close(): void {
    for (const id of [...this.entries.keys()]) {
      const e = this.entries.get(id)!;
      this.entries.delete(id);
      e.dropped = true;
      this.freeEntry(e);
    }
  }

  private freeEntry(e: Entry): void {
    if (e.fbId !== undefined) {
      const fbId = e.fbId;
      e.fbId = undefined;
      this.framebuffers--;
      try {
        this.dev.rmFb(fbId);
      } catch (err) {
        this.onError(err, 'removing a framebuffer');
      }
    }
    if (e.source !== undefined) {
      const src = e.source;
      e.source = undefined;
      this.unuse(src);
    }
  }

  private async decide(fb: FramebufferDesc, entry: Entry): Promise<ScanoutPlan> {
    const own = this.own.find(fb.buffer.bytes);
    // A picture dom0 drew into this card's own memory (a composed layout) is no guest buffer: the
    // operator's switch is about importing guests' pages, and copying ours would gain nothing.
    if (own !== undefined && fb.buffer.domid === 0)
      return this.addFb(fb, entry, own.handle, fb.buffer.bytes.byteOffset + fb.offset);
    if (!this.enabled()) return { kind: 'copy', reason: ZERO_COPY_DISABLED };
    if (this.planeFormats.size > 0 && !this.planeFormats.has(fb.fourcc)) {
      return { kind: 'copy', reason: `the primary plane cannot scan out ${fourccToString(fb.fourcc)}` };
    }
    if (own !== undefined) {
      return this.addFb(fb, entry, own.handle, fb.buffer.bytes.byteOffset + fb.offset);
    }
    if (!fb.buffer.exportDmaBuf) {
      // Domain 0 is never a guest: its buffers are pictures the daemon made itself (a composed layout).
      if (fb.buffer.domid === 0) return { kind: 'copy', reason: COMPOSED_IN_DOM0 };
      return { kind: 'copy', reason: 'this platform cannot export guest buffers as dma-bufs' };
    }
    if (!this.caps.primeImport) return { kind: 'copy', reason: 'the DRM driver has no PRIME import' };
    let imp: Import;
    try {
      imp = await this.use(fb.buffer);
    } catch (err) {
      return { kind: 'copy', reason: (err as { reason?: string }).reason ?? `dma-buf import failed (${codeOf(err)})` };
    }
    if (entry.dropped) {
      this.unuse(fb.buffer);
      return { kind: 'copy', reason: 'released before it was shown' };
    }
    entry.source = fb.buffer;
    return this.addFb(fb, entry, imp.handle, fb.offset);
  }

  private addFb(fb: FramebufferDesc, entry: Entry, handle: number, offset: number): ScanoutPlan {
    if (entry.dropped) return { kind: 'copy', reason: 'released before it was shown' };
    try {
      const fbId = this.dev.addFb2(fb.width, fb.height, fb.fourcc, [handle], [fb.pitch], [offset]);
      entry.fbId = fbId;
      this.framebuffers++;
      return { kind: 'zero-copy', fbId };
    } catch (err) {
      if (entry.source !== undefined) {
        this.unuse(entry.source);
        entry.source = undefined;
      }
      if (!isNativeError(err)) throw err;
      return {
        kind: 'copy',
        reason: `ADDFB2 refused the guest's layout (${err.code}; pitch ${fb.pitch % 64 === 0 ? 'aligned' : 'not 64-byte aligned'})`,
      };
    }
  }

  /** The dma-buf import of a buffer, shared by every framebuffer over it. */
  private async use(src: BufferSource): Promise<Import> {
    const existing = this.imports.get(src);
    if (existing !== undefined) {
      const imp = await existing;
      imp.users++;
      return imp;
    }
    const pending = (async (): Promise<Import> => {
      let dmabuf: ExportedDmaBuf;
      try {
        dmabuf = await src.exportDmaBuf!();
      } catch (err) {
        throw Object.assign(new Error('export'), { reason: `dma-buf export refused (${codeOf(err)})` });
      }
      try {
        const handle = this.dev.primeFdToHandle(dmabuf.fd);
        return { dmabuf, handle, users: 1 };
      } catch (err) {
        void dmabuf.close();
        throw Object.assign(new Error('import'), { reason: `PRIME import refused (${codeOf(err)})` });
      }
    })();
    this.imports.set(src, pending);
    try {
      const imp = await pending;
      this.imports.set(src, imp);
      return imp;
    } catch (err) {
      this.imports.delete(src);
      throw err;
    }
  }

  private unuse(src: BufferSource): void {
    const imp = this.imports.get(src);
    if (imp === undefined || imp instanceof Promise) return;
    if (--imp.users > 0) return;
    this.imports.delete(src);
    try {
      this.dev.closeHandle(imp.handle);
    } catch (err) {
      this.onError(err, 'closing an imported GEM handle');
    }
    // Our fd goes, then gntdev waits (off the loop) for the driver to let go of the pages.
    imp.dmabuf.close().catch((err: unknown) => this.onError(err, 'releasing an exported dma-buf'));
  }
}
