// The DRM device xen-drm-front gives guest userspace, reduced to the calls that reach the
// backend (xen_drm_front.c, _gem.c, _kms.c): dumb buffers and PRIME imports (DBUF_CREATE),
// framebuffers (FB_ATTACH/DETACH), enabling and disabling a pipe (SET_CONFIG), page flips
// (PG_FLIP, the vblank event released by EVT_PG_FLIP or after 3100 ms), and GEM release
// (DBUF_DESTROY). Each method returns the status the ioctl would.
import {
  DBUF_FLG_REQ_ALLOC,
  LINUX_FE_FRAME_DONE_TIMEOUT_MS,
  Op,
  PAGE_SIZE,
  XEN_EINVAL,
} from '../../displif/constants.js';
import { writeU32, writeU64 } from '../../displif/bytes.js';
import { formatByName, type PixelFormat } from '../../displif/formats.js';
import { REQ } from '../../displif/wire-layout.js';
import type { DomainKernel, OwnPages } from '../domain-kernel.js';
import type { CtrlChannel } from './channel.js';
import type { FlipOutcome } from './protocol.js';
import { PgdirShbuf } from './shbuf.js';
import { Errno } from '../../util/errno.js';

const { ENODEV, EBUSY, ENOMEM } = Errno;

export interface GemObject {
  readonly cookie: bigint;
  readonly size: number;
  /** 0 for a PRIME import. */
  readonly width: number;
  readonly height: number;
  readonly bpp: number;
  readonly pitch: number;
  readonly offset: number;
  readonly shbuf: PgdirShbuf;
  closed: boolean;
}

export interface Framebuffer {
  readonly cookie: bigint;
  readonly obj: GemObject;
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  removed: boolean;
}

export interface FlipResult {
  readonly status: number;
  readonly outcome: FlipOutcome;
  /** From the flip commit to the vblank event. */
  readonly ms: number;
}

interface Pipeline {
  readonly index: number;
  readonly width: number;
  readonly height: number;
  /** conn_connected: false after a SET_CONFIG or PG_FLIP error, until the next disable. */
  connected: boolean;
  fb: Framebuffer | undefined;
  pending: { release(outcome: FlipOutcome): void } | undefined;
}

/** Kernel-pointer-looking cookies: what (uintptr_t)gem_obj and (uintptr_t)fb look like. */
class CookieSpace {
  private next = 0xffff888100000000n;
  take(): bigint {
    this.next += 0x400n;
    return this.next;
  }
}

export interface CardContext {
  readonly kernel: DomainKernel;
  readonly backend: number;
  readonly beAlloc: boolean;
  readonly connectors: readonly { readonly width: number; readonly height: number }[];
  /** The control channel of connector `conn`. */
  ctrl(conn: number): CtrlChannel;
}

export class DrmCard {
  private plugged = true;
  private readonly pipes: Pipeline[];
  private readonly cookies = new CookieSpace();
  private readonly objects = new Set<GemObject>();
  private readonly framebuffers = new Set<Framebuffer>();

  constructor(private readonly ctx: CardContext) {
    this.pipes = ctx.connectors.map((c, index) => ({
      index,
      width: c.width,
      height: c.height,
      connected: true,
      fb: undefined,
      pending: undefined,
    }));
  }

  get connectors(): readonly { readonly width: number; readonly height: number }[] {
    return this.ctx.connectors;
  }

  get isPlugged(): boolean {
    return this.plugged;
  }

  /** The connector is reported connected (a SET_CONFIG or PG_FLIP error disconnects it). */
  isConnected(conn: number): boolean {
    return this.pipes[conn]?.connected ?? false;
  }

  /** DRM_IOCTL_MODE_CREATE_DUMB: pitch = ceil(width * bpp / 8), no alignment. */
  async dumbCreate(
    width: number,
    height: number,
    bpp: number,
    cookie?: bigint,
  ): Promise<{ status: number; obj?: GemObject }> {
    if (!this.plugged) return { status: -ENODEV };
    const pitch = Math.ceil((width * bpp) / 8);
    const size = pitch * height;
    if (size <= 0) return { status: -XEN_EINVAL };
    return this.createDbuf({ width, height, bpp, pitch, size, offset: 0 }, cookie);
  }

  /** A buffer imported from another driver (PRIME): DBUF_CREATE with zero geometry and data_ofs. */
  async primeImport(size: number, offset = 0, cookie?: bigint): Promise<{ status: number; obj?: GemObject }> {
    if (!this.plugged) return { status: -ENODEV };
    if (size <= 0) return { status: -XEN_EINVAL };
    return this.createDbuf({ width: 0, height: 0, bpp: 0, pitch: 0, size, offset }, cookie);
  }

  /** DRM_IOCTL_MODE_ADDFB2 → FB_ATTACH. */
  async addFb(
    obj: GemObject,
    width: number,
    height: number,
    formatName: string,
    cookie?: bigint,
  ): Promise<{ status: number; fb?: Framebuffer }> {
    if (!this.plugged) return { status: -ENODEV };
    const format = formatByName(formatName);
    if (!format) return { status: -XEN_EINVAL };
    const fb: Framebuffer = { cookie: cookie ?? this.cookies.take(), obj, width, height, format, removed: false };
    const status = await this.ctx.ctrl(0).request(Op.FB_ATTACH, (s) => {
      writeU64(s, REQ.fbAttach.dbufCookie, obj.cookie);
      writeU64(s, REQ.fbAttach.fbCookie, fb.cookie);
      writeU32(s, REQ.fbAttach.width, width);
      writeU32(s, REQ.fbAttach.height, height);
      writeU32(s, REQ.fbAttach.pixelFormat, format.fourcc);
    });
    if (status !== 0) return { status };
    this.framebuffers.add(fb);
    return { status, fb };
  }

  /** DRM_IOCTL_MODE_RMFB → FB_DETACH (only while the device is plugged). */
  async rmFb(fb: Framebuffer): Promise<number> {
    if (fb.removed) return -XEN_EINVAL;
    fb.removed = true;
    this.framebuffers.delete(fb);
    if (!this.plugged) return 0;
    return this.ctx.ctrl(0).request(Op.FB_DETACH, (s) => writeU64(s, REQ.fbDetach.fbCookie, fb.cookie));
  }

  /** Last reference to a GEM object gone → DBUF_DESTROY (xen_drm_front_dbuf_destroy ordering). */
  async gemClose(obj: GemObject): Promise<number> {
    if (obj.closed) return -XEN_EINVAL;
    obj.closed = true;
    this.objects.delete(obj);
    if (!this.plugged) {
      obj.shbuf.free();
      return 0;
    }
    // be-alloc: release the backend's pages first so it can free them.
    if (this.ctx.beAlloc) obj.shbuf.free();
    const status = await this.ctx
      .ctrl(0)
      .request(Op.DBUF_DESTROY, (s) => writeU64(s, REQ.dbufDestroy.dbufCookie, obj.cookie));
    // Frontend-allocated: end access whatever the backend answered (or if it did not).
    if (!this.ctx.beAlloc) obj.shbuf.free();
    return status;
  }

  /** Enabling the pipe with `fb` (display_enable → SET_CONFIG). */
  async enable(conn: number, fb: Framebuffer, x = 0, y = 0): Promise<number> {
    const pipe = this.pipes[conn];
    if (!pipe) return -XEN_EINVAL;
    if (!this.plugged) return -ENODEV;
    const status = await this.ctx.ctrl(conn).request(Op.SET_CONFIG, (s) => {
      writeU32(s, REQ.setConfig.x, x);
      writeU32(s, REQ.setConfig.y, y);
      writeU32(s, REQ.setConfig.width, fb.width);
      writeU32(s, REQ.setConfig.height, fb.height);
      writeU32(s, REQ.setConfig.bpp, fb.format.cpp * 8);
      writeU64(s, REQ.setConfig.fbCookie, fb.cookie);
    });
    if (status !== 0) pipe.connected = false;
    else pipe.fb = fb;
    return status;
  }

  /** Disabling the pipe (display_disable → SET_CONFIG of all zeros, fb cookie 0). */
  async disable(conn: number): Promise<number> {
    const pipe = this.pipes[conn];
    if (!pipe) return -XEN_EINVAL;
    if (!this.plugged) return -ENODEV;
    const status = await this.ctx.ctrl(conn).request(Op.SET_CONFIG, (s) => {
      writeU32(s, REQ.setConfig.x, 0);
      writeU32(s, REQ.setConfig.y, 0);
      writeU32(s, REQ.setConfig.width, 0);
      writeU32(s, REQ.setConfig.height, 0);
      writeU32(s, REQ.setConfig.bpp, 0);
      writeU64(s, REQ.setConfig.fbCookie, 0n);
    });
    pipe.fb = undefined;
    pipe.connected = true;
    return status;
  }

  /**
   * A page-flip commit with an event: PG_FLIP (waited for up to 3 s), then the vblank event,
   * released by EVT_PG_FLIP, by the 3100 ms frame-done timeout, or at once on an error.
   */
  async pageFlip(conn: number, fb: Framebuffer): Promise<FlipResult> {
    const pipe = this.pipes[conn];
    if (!pipe) return { status: -XEN_EINVAL, outcome: 'error', ms: 0 };
    if (!this.plugged) return { status: -ENODEV, outcome: 'error', ms: 0 };
    if (pipe.pending) return { status: -EBUSY, outcome: 'error', ms: 0 };
    const started = performance.now();
    let release!: (o: FlipOutcome) => void;
    const released = new Promise<FlipOutcome>((r) => (release = r));
    const timer = setTimeout(() => pending.release('timeout'), LINUX_FE_FRAME_DONE_TIMEOUT_MS);
    const pending = {
      release: (o: FlipOutcome): void => {
        if (pipe.pending !== pending) return;
        pipe.pending = undefined;
        clearTimeout(timer);
        release(o);
      },
    };
    pipe.pending = pending;
    const status = await this.ctx.ctrl(conn).request(Op.PG_FLIP, (s) => writeU64(s, REQ.pgFlip.fbCookie, fb.cookie));
    if (status !== 0) {
      pipe.connected = false;
      pending.release('error');
    } else pipe.fb = fb;
    const outcome = await released;
    return { status, outcome, ms: performance.now() - started };
  }

  /** EVT_PG_FLIP: the driver does not check the cookie, it releases the pending event. */
  onFrameDone(conn: number): void {
    this.pipes[conn]?.pending?.release('event');
  }

  /** drm_dev_unplug: pending events are released, later calls fail with -ENODEV. */
  unplug(): void {
    this.plugged = false;
    for (const p of this.pipes) p.pending?.release('error');
  }

  /** Frees what userspace left behind (buffers are gone with the device). */
  releaseAll(): void {
    for (const o of this.objects) {
      o.closed = true;
      o.shbuf.free();
    }
    this.objects.clear();
    this.framebuffers.clear();
  }

  private async createDbuf(
    g: { width: number; height: number; bpp: number; pitch: number; size: number; offset: number },
    cookie: bigint | undefined,
  ): Promise<{ status: number; obj?: GemObject }> {
    const numPages = Math.ceil(g.size / PAGE_SIZE);
    const kernel = this.ctx.kernel;
    let pages: OwnPages | undefined;
    let shbuf: PgdirShbuf;
    try {
      if (!this.ctx.beAlloc) pages = await kernel.allocPages(numPages);
      shbuf = await PgdirShbuf.alloc(kernel, this.ctx.backend, numPages, pages);
    } catch {
      // As the kernel driver does: an allocation or grant failure is the ioctl's -ENOMEM.
      if (pages) {
        pages.unmap();
        kernel.freePages(pages.first, numPages);
      }
      return { status: -ENOMEM };
    }
    const obj: GemObject = {
      cookie: cookie ?? this.cookies.take(),
      size: g.size,
      width: g.width,
      height: g.height,
      bpp: g.bpp,
      pitch: g.pitch,
      offset: g.offset,
      shbuf,
      closed: false,
    };
    const status = await this.ctx.ctrl(0).request(Op.DBUF_CREATE, (s) => {
      writeU32(s, REQ.dbufCreate.grefDirectory, shbuf.dirStart);
      writeU32(s, REQ.dbufCreate.bufferSz, g.size);
      writeU32(s, REQ.dbufCreate.dataOfs, g.offset);
      writeU64(s, REQ.dbufCreate.dbufCookie, obj.cookie);
      writeU32(s, REQ.dbufCreate.width, g.width);
      writeU32(s, REQ.dbufCreate.height, g.height);
      writeU32(s, REQ.dbufCreate.bpp, g.bpp);
      // `flags |=`: ORed into whatever the slot held.
      if (this.ctx.beAlloc) s[REQ.dbufCreate.flags] = (s[REQ.dbufCreate.flags] ?? 0) | DBUF_FLG_REQ_ALLOC;
    });
    const mapped = status === 0 ? await shbuf.map() : status;
    if (mapped !== 0) {
      // The failure path frees locally only: no DBUF_DESTROY reaches the backend.
      shbuf.free();
      return { status: mapped };
    }
    this.objects.add(obj);
    return { status: 0, obj };
  }
}
