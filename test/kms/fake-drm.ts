// A DRM card in TypeScript for the KMS output's tests: connectors, CRTCs, planes and properties as
// a driver reports them, dumb buffers in memory, PRIME import of fake dma-bufs, ADDFB2 with a
// pitch-alignment rule, legacy and atomic modesetting with TEST_ONLY, flip events delivered at a
// vblank the test triggers, and DRM master that can be taken away. Overlay planes may have a zpos
// (mutable in a range, or immutable, as drivers make them) and scale or not, each its own. What
// is "on screen" can be read back pixel by pixel, through the planes' source and destination
// rectangles, stacked as the kernel stacks them (by zpos, then plane id).
import type {
  DrmConnector,
  DrmCrtc,
  DrmFlipEvent,
  DrmModeInfo,
  DrmPlane,
  DrmProperty,
  DrmResources,
  NativeDrmDevice,
} from '../../src/native/drm-device.js';
import type { NativeMapping } from '../../src/native/addon.js';
import type { NativeDeviceError } from '../../src/native/errors.js';

const CODES: Record<number, string> = { 1: 'EPERM', 13: 'EACCES', 16: 'EBUSY', 22: 'EINVAL', 95: 'EOPNOTSUPP' };

export function drmError(call: string, errno: number): NativeDeviceError {
  const code = CODES[errno] ?? 'EIO';
  return Object.assign(new Error(`/dev/dri/card0: ${call}: (${code})`), {
    errno,
    code,
    syscall: call,
    device: '/dev/dri/card0',
  });
}

export function mode(w: number, h: number, hz = 60, preferred = false): DrmModeInfo {
  const htotal = w + 160;
  const vtotal = h + 45;
  return {
    clock: Math.round((htotal * vtotal * hz) / 1000),
    hdisplay: w,
    hsyncStart: w + 48,
    hsyncEnd: w + 80,
    htotal,
    hskew: 0,
    vdisplay: h,
    vsyncStart: h + 3,
    vsyncEnd: h + 8,
    vtotal,
    vscan: 0,
    vrefresh: hz,
    flags: 0,
    type: preferred ? 0x48 : 0x40,
    name: `${w}x${h}`,
  };
}

let nextPropId = 1000;
const prop = (name: string, value = 0n, enums: { name: string; value: bigint }[] = []): DrmProperty => ({
  id: nextPropId++,
  name,
  value,
  flags: 0,
  enums,
  values: [],
});

/** A plane's zpos property: mutable in [min, max] (value the initial one), or immutable at value. */
export interface FakeZpos {
  readonly value: number;
  readonly min?: number;
  readonly max?: number;
  readonly immutable?: boolean;
}

/** One overlay plane: its zpos property (none: no property) and whether it scales (default: canScale). */
export interface FakeOverlaySpec {
  readonly zpos?: FakeZpos;
  readonly scales?: boolean;
}

const DRM_MODE_PROP_RANGE = 1 << 1;
const DRM_MODE_PROP_IMMUTABLE = 1 << 2;

function zposProp(z: FakeZpos): DrmProperty {
  const immutable = z.immutable ?? false;
  return {
    ...prop('zpos', BigInt(z.value)),
    flags: DRM_MODE_PROP_RANGE | (immutable ? DRM_MODE_PROP_IMMUTABLE : 0),
    values: immutable ? [BigInt(z.value), BigInt(z.value)] : [BigInt(z.min ?? 0), BigInt(z.max ?? z.value)],
  };
}

export interface FakeConnectorSpec {
  readonly name: string;
  readonly modes: readonly DrmModeInfo[];
  readonly connected?: boolean;
}

export interface FakeCardOptions {
  readonly connectors: readonly FakeConnectorSpec[];
  readonly crtcs?: number;
  readonly atomic?: boolean;
  readonly primeImport?: boolean;
  readonly primeExport?: boolean;
  /** ADDFB2 refuses pitches that are not a multiple of this (many display engines: 64 or 256). */
  readonly pitchAlign?: number;
  /** Atomic: the primary plane may be smaller than the CRTC and placed anywhere. */
  readonly canPosition?: boolean;
  /** Atomic: the primary plane may scale. */
  readonly canScale?: boolean;
  readonly formats?: readonly number[];
  /** fbcon's state before we start: CRTC 0 shows this framebuffer. */
  readonly bootFb?: number;
  /**
   * Atomic: overlay planes per CRTC, a count (no zpos: above the primary in plane id order) or
   * one spec each; none by default.
   */
  readonly overlays?: number | readonly FakeOverlaySpec[];
  /** Atomic: the primary planes' zpos property (none by default). */
  readonly primaryZpos?: FakeZpos;
}

interface Fb {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly fourcc: number;
  readonly memory: Uint8Array;
  readonly pitch: number;
  readonly offset: number;
}

/** An overlay plane's state: what it shows where, on which CRTC (fbId 0: off). */
interface OverlayState {
  fbId: number;
  crtcId: number;
  src: { x: number; y: number; w: number; h: number };
  dst: { x: number; y: number; w: number; h: number };
}

interface CrtcState {
  fbId: number;
  /** zpos values set by a commit, by plane, applied with the flip. */
  zpos?: Map<number, bigint>;
  mode: DrmModeInfo | null;
  connectors: number[];
  src: { x: number; y: number; w: number; h: number };
  dst: { x: number; y: number; w: number; h: number };
}

const XR24 = 0x34325258;

export class FakeDrm implements NativeDrmDevice {
  readonly fd = 77;
  readonly path = '/dev/dri/card0';
  master = true;
  /** When false, setMaster fails (another process holds it). */
  masterAvailable = true;
  closed = false;
  readonly calls: string[] = [];
  /** Fake dma-buf fds the "kernel" knows: fd -> memory. */
  readonly dmabufs = new Map<number, Uint8Array>();
  private readonly res: DrmResources;
  private readonly dumbs = new Map<number, { memory: Uint8Array; pitch: number; size: number }>();
  private readonly handles = new Map<number, Uint8Array>();
  private readonly fbs = new Map<number, Fb>();
  private readonly blobs = new Map<number, DrmModeInfo>();
  private readonly state = new Map<number, CrtcState>();
  private readonly pendingFlips = new Map<
    number,
    {
      fbId: number;
      userData: number;
      src?: CrtcState['src'];
      dst?: CrtcState['dst'];
      overlays?: Map<number, OverlayState>;
      zpos?: Map<number, bigint>;
    }
  >();
  /** Each plane's zpos now (planes with a zpos property). */
  private readonly zpos = new Map<number, bigint>();
  private readonly overlaySpecs = new Map<number, FakeOverlaySpec>();
  private readonly overlayState = new Map<number, OverlayState>();
  private readonly overlayIds = new Set<number>();
  /**
   * Atomic: the most overlay planes the card takes lit at once (its bandwidth, say): a commit
   * lighting more is refused, TEST_ONLY included. Tests change it while a layout runs.
   */
  overlayLimit = Infinity;
  /** TEST_ONLY commits that lit an overlay plane, and how many the card refused. */
  overlayTests = { accepted: 0, refused: 0 };
  private events: DrmFlipEvent[] = [];
  private nextHandle = 1;
  private nextFb = 100;
  private nextBlob = 500;
  private atomicOn = false;
  private seq = 0;
  refuseImport: string | undefined;

  constructor(readonly opts: FakeCardOptions) {
    const ncrtc = opts.crtcs ?? opts.connectors.length;
    const crtcs: DrmCrtc[] = [];
    for (let i = 0; i < ncrtc; i++) {
      crtcs.push({
        id: 40 + i,
        index: i,
        bufferId: 0,
        x: 0,
        y: 0,
        width: 0,
        height: 0,
        mode: null,
        gammaSize: 256,
        props: [prop('MODE_ID'), prop('ACTIVE')],
      });
      this.state.set(40 + i, {
        fbId: 0,
        mode: null,
        connectors: [],
        src: { x: 0, y: 0, w: 0, h: 0 },
        dst: { x: 0, y: 0, w: 0, h: 0 },
      });
    }
    const allCrtcs = (1 << ncrtc) - 1;
    const encoders = opts.connectors.map((_, i) => ({
      id: 30 + i,
      type: 2,
      crtcId: 0,
      possibleCrtcs: allCrtcs,
      possibleClones: 0,
    }));
    const connectors: DrmConnector[] = opts.connectors.map((c, i) => ({
      id: 20 + i,
      name: c.name,
      type: 0,
      typeId: Number(/-([0-9]+)$/.exec(c.name)?.[1] ?? 1),
      connection: c.connected === false ? 'disconnected' : 'connected',
      mmWidth: 500,
      mmHeight: 300,
      encoderId: 30 + i,
      encoders: [30 + i],
      modes: c.modes,
      props: [prop('CRTC_ID')],
    }));
    const planeType = (primary: boolean): DrmProperty =>
      prop('type', primary ? 1n : 0n, [
        { name: 'Overlay', value: 0n },
        { name: 'Primary', value: 1n },
        { name: 'Cursor', value: 2n },
      ]);
    const planeProps = (primary: boolean, zpos: FakeZpos | undefined): DrmProperty[] => [
      planeType(primary),
      ...['FB_ID', 'CRTC_ID', 'SRC_X', 'SRC_Y', 'SRC_W', 'SRC_H', 'CRTC_X', 'CRTC_Y', 'CRTC_W', 'CRTC_H'].map((n) =>
        prop(n),
      ),
      ...(zpos ? [zposProp(zpos)] : []),
    ];
    const planes: DrmPlane[] = crtcs.map((_c, i) => ({
      id: 60 + i,
      crtcId: 0,
      fbId: 0,
      possibleCrtcs: 1 << i,
      formats: opts.formats ?? [XR24, 0x34325241, 0x36314752],
      props: planeProps(true, opts.primaryZpos),
    }));
    const specs: readonly FakeOverlaySpec[] =
      typeof opts.overlays === 'number' ? Array.from({ length: opts.overlays }, () => ({})) : (opts.overlays ?? []);
    for (let i = 0; i < ncrtc; i++)
      specs.forEach((spec, k) => {
        const id = 80 + i * 8 + k;
        this.overlayIds.add(id);
        this.overlaySpecs.set(id, spec);
        planes.push({
          id,
          crtcId: 0,
          fbId: 0,
          possibleCrtcs: 1 << i,
          formats: [XR24],
          props: planeProps(false, spec.zpos),
        });
      });
    for (const p of planes) {
      const z = p.props.find((x) => x.name === 'zpos');
      if (z) this.zpos.set(p.id, z.value);
    }
    this.res = { minWidth: 1, maxWidth: 8192, minHeight: 1, maxHeight: 8192, crtcs, encoders, connectors, planes };
    if (opts.bootFb !== undefined && connectors[0] && crtcs[0]) {
      const m = connectors[0].modes[0]!;
      this.fbs.set(opts.bootFb, {
        id: opts.bootFb,
        width: m.hdisplay,
        height: m.vdisplay,
        fourcc: XR24,
        memory: new Uint8Array(m.hdisplay * m.vdisplay * 4).fill(0x11),
        pitch: m.hdisplay * 4,
        offset: 0,
      });
      this.state.set(crtcs[0].id, {
        fbId: opts.bootFb,
        mode: m,
        connectors: [connectors[0].id],
        src: { x: 0, y: 0, w: m.hdisplay, h: m.vdisplay },
        dst: { x: 0, y: 0, w: m.hdisplay, h: m.vdisplay },
      });
      (encoders[0] as { crtcId: number }).crtcId = crtcs[0].id;
    }
  }

  // --- test helpers ------------------------------------------------------------------------------

  /** Completes every pending flip, as a vblank would, and queues its event. */
  vblank(): number {
    let n = 0;
    for (const [crtc, f] of this.pendingFlips) {
      const s = this.state.get(crtc)!;
      s.fbId = f.fbId;
      if (f.src) s.src = f.src;
      if (f.dst) s.dst = f.dst;
      for (const [id, o] of f.overlays ?? []) this.overlayState.set(id, o);
      for (const [id, z] of f.zpos ?? []) this.zpos.set(id, z);
      this.events.push({ crtcId: crtc, sequence: ++this.seq, sec: 100, usec: 500 * this.seq, userData: f.userData });
      n++;
    }
    this.pendingFlips.clear();
    return n;
  }

  /** Another process becomes master. */
  stealMaster(): void {
    this.master = false;
    this.masterAvailable = false;
  }

  giveBackMaster(): void {
    this.masterAvailable = true;
  }

  /**
   * A monitor unplugged from (modes undefined) or plugged into connector `name`, with these modes:
   * the connector's status and modes change, as the kernel's next probe reports them. A CRTC
   * driving it keeps its state, as in the kernel: turning it off is userspace's business.
   */
  setMonitor(name: string, modes: readonly DrmModeInfo[] | undefined): void {
    const list = this.res.connectors as DrmConnector[];
    const i = list.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`no connector ${name}`);
    list[i] = { ...list[i]!, connection: modes ? 'connected' : 'disconnected', modes: modes ?? [] };
  }

  /** Connector name -> status and modes, as sysfs shows them (`status`, then `modes`). */
  statuses(): Map<string, string> {
    return new Map(this.res.connectors.map((c) => [c.name, [c.connection, ...c.modes.map((m) => m.name)].join('\n')]));
  }

  crtcState(crtcId: number): Readonly<CrtcState> {
    return this.state.get(crtcId)!;
  }

  /** Overlay planes lit on `crtcId` now. */
  litOverlays(crtcId: number): number {
    return [...this.overlayState.values()].filter((o) => o.crtcId === crtcId && o.fbId !== 0).length;
  }

  /** What lit overlay plane `planeId` shows at the top-left of its source rectangle, as [B, G, R]. */
  overlayOrigin(planeId: number): number[] | undefined {
    const o = this.overlayState.get(planeId);
    if (!o || o.fbId === 0) return undefined;
    return this.sample(o.fbId, o.src, o.dst, o.dst.x, o.dst.y);
  }

  /** A plane's zpos now (undefined: it has no zpos property). */
  planeZpos(planeId: number): bigint | undefined {
    return this.zpos.get(planeId);
  }

  /** Overlay planes lit on `crtcId`, bottom to top as the kernel stacks them (zpos, then plane id). */
  litOrder(crtcId: number): number[] {
    return this.stack(crtcId)
      .map((p) => p.id)
      .filter((id) => this.overlayIds.has(id));
  }

  /** XRGB pixel on screen at (x, y) of `crtcId` as [B, G, R]; undefined where no plane covers. */
  pixel(crtcId: number, x: number, y: number): number[] | undefined {
    const s = this.state.get(crtcId)!;
    if (!s.mode) return undefined;
    // The topmost lit plane covering (x, y).
    for (const p of this.stack(crtcId).reverse()) {
      const got = this.sample(p.fbId, p.src, p.dst, x, y);
      if (got) return got;
    }
    return undefined;
  }

  /**
   * The planes lit on `crtcId`, bottom to top: by zpos, then plane id (drm_atomic_normalize_zpos);
   * where no plane has a zpos, the primary at the bottom and the overlays in plane id order.
   */
  private stack(crtcId: number): { id: number; fbId: number; src: CrtcState['src']; dst: CrtcState['dst'] }[] {
    const s = this.state.get(crtcId)!;
    const primary = 60 + this.res.crtcs.findIndex((c) => c.id === crtcId);
    const lit = [
      { id: primary, fbId: s.fbId, src: s.src, dst: s.dst },
      ...[...this.overlayState.entries()]
        .filter(([, o]) => o.crtcId === crtcId && o.fbId !== 0)
        .map(([id, o]) => ({ id, fbId: o.fbId, src: o.src, dst: o.dst })),
    ];
    const z = (id: number): bigint => this.zpos.get(id) ?? (id === primary ? -1n : 0n);
    return lit.sort((a, b) => (z(a.id) !== z(b.id) ? (z(a.id) < z(b.id) ? -1 : 1) : a.id - b.id));
  }

  private sample(
    fbId: number,
    src: CrtcState['src'],
    dst: CrtcState['dst'],
    x: number,
    y: number,
  ): number[] | undefined {
    const fb = this.fbs.get(fbId);
    if (!fb) return undefined;
    const s = { src, dst };
    if (x < s.dst.x || y < s.dst.y || x >= s.dst.x + s.dst.w || y >= s.dst.y + s.dst.h) return undefined;
    const fx = s.src.x + Math.floor(((x - s.dst.x) * s.src.w) / s.dst.w);
    const fy = s.src.y + Math.floor(((y - s.dst.y) * s.src.h) / s.dst.h);
    const o = fb.offset + fy * fb.pitch + fx * 4;
    return [...fb.memory.subarray(o, o + 3)];
  }

  get liveFramebuffers(): number {
    return this.fbs.size - (this.opts.bootFb !== undefined && this.fbs.has(this.opts.bootFb) ? 1 : 0);
  }

  get liveDumbs(): number {
    return this.dumbs.size;
  }

  get liveHandles(): number {
    return this.handles.size;
  }

  get liveBlobs(): number {
    return this.blobs.size;
  }

  // --- NativeDrmDevice ---------------------------------------------------------------------------

  version() {
    return { name: 'fakedrm', desc: 'test card', date: '20260101', major: 1, minor: 0, patch: 0 };
  }

  getCap(cap: number): number {
    switch (cap) {
      case 0x1:
        return 1;
      case 0x5:
        return (this.opts.primeImport === false ? 0 : 1) | (this.opts.primeExport === false ? 0 : 2);
      case 0x6:
        return 1;
      default:
        return 0;
    }
  }

  setClientCap(cap: number, value: number): number {
    if (cap === 3) {
      if (!this.opts.atomic) return 95;
      this.atomicOn = value === 1;
    }
    return 0;
  }

  setMaster(): void {
    this.calls.push('setMaster');
    if (!this.masterAvailable) throw drmError('drmSetMaster', 13);
    this.master = true;
  }

  dropMaster(): void {
    this.master = false;
  }

  isMaster(): boolean {
    return this.master;
  }

  resources(): DrmResources {
    return this.res;
  }

  getCrtc(crtcId: number): DrmCrtc {
    const c = this.res.crtcs.find((x) => x.id === crtcId)!;
    const s = this.state.get(crtcId)!;
    return { ...c, bufferId: s.fbId, mode: s.mode, x: s.src.x, y: s.src.y };
  }

  objectProperties(): DrmProperty[] {
    return [];
  }

  createDumb(width: number, height: number, bpp: number) {
    const align = this.opts.pitchAlign ?? 64;
    const pitch = Math.ceil((width * bpp) / 8 / align) * align;
    const size = Math.ceil((pitch * height) / 4096) * 4096;
    const handle = this.nextHandle++;
    const memory = new Uint8Array(size);
    this.dumbs.set(handle, { memory, pitch, size });
    this.handles.set(handle, memory);
    return { handle, pitch, size };
  }

  mapDumb(handle: number, size: number): NativeMapping {
    const d = this.dumbs.get(handle);
    if (!d || size > d.size) throw drmError('DRM_IOCTL_MODE_MAP_DUMB', 22);
    return { buffer: d.memory.buffer as ArrayBuffer, length: size, unmap() {} };
  }

  destroyDumb(handle: number): void {
    this.dumbs.delete(handle);
    this.handles.delete(handle);
  }

  primeFdToHandle(fd: number): number {
    this.calls.push(`primeFdToHandle ${fd}`);
    if (this.opts.primeImport === false) throw drmError('DRM_IOCTL_PRIME_FD_TO_HANDLE', 95);
    if (this.refuseImport) throw drmError('DRM_IOCTL_PRIME_FD_TO_HANDLE', 22);
    const memory = this.dmabufs.get(fd);
    if (!memory) throw drmError('DRM_IOCTL_PRIME_FD_TO_HANDLE', 22);
    const handle = this.nextHandle++;
    this.handles.set(handle, memory);
    return handle;
  }

  primeHandleToFd(handle: number): number {
    const memory = this.handles.get(handle);
    if (!memory) throw drmError('DRM_IOCTL_PRIME_HANDLE_TO_FD', 22);
    const fd = 900 + handle;
    this.dmabufs.set(fd, memory);
    return fd;
  }

  closeHandle(handle: number): void {
    this.calls.push(`closeHandle ${handle}`);
    this.handles.delete(handle);
  }

  addFb2(
    width: number,
    height: number,
    fourcc: number,
    handles: readonly number[],
    pitches: readonly number[],
    offsets: readonly number[],
  ): number {
    const memory = this.handles.get(handles[0]!);
    const align = this.opts.pitchAlign ?? 64;
    if (!memory || pitches[0]! % align !== 0) throw drmError('DRM_IOCTL_MODE_ADDFB2', 22);
    if (offsets[0]! + pitches[0]! * (height - 1) + width * 4 > memory.length && fourcc === XR24)
      throw drmError('DRM_IOCTL_MODE_ADDFB2', 22);
    const id = this.nextFb++;
    this.fbs.set(id, { id, width, height, fourcc, memory, pitch: pitches[0]!, offset: offsets[0]! });
    this.calls.push(`addFb2 ${id} ${width}x${height} pitch ${pitches[0]} offset ${offsets[0]}`);
    return id;
  }

  rmFb(fbId: number): void {
    this.calls.push(`rmFb ${fbId}`);
    if (!this.fbs.delete(fbId)) throw drmError('DRM_IOCTL_MODE_RMFB', 2);
    // The kernel turns off a CRTC whose framebuffer is removed, and a plane that shows it.
    for (const s of this.state.values()) if (s.fbId === fbId) Object.assign(s, { fbId: 0, mode: null });
    for (const o of this.overlayState.values()) if (o.fbId === fbId) Object.assign(o, { fbId: 0, crtcId: 0 });
  }

  setCrtc(
    crtcId: number,
    fbId: number,
    x: number,
    y: number,
    connectorIds: readonly number[],
    m: DrmModeInfo | null,
  ): void {
    this.calls.push(`setCrtc ${crtcId} fb ${fbId}`);
    if (!this.master) throw drmError('drmModeSetCrtc', 13);
    const s = this.state.get(crtcId)!;
    if (m === null || fbId === 0) {
      Object.assign(s, { fbId: 0, mode: null, connectors: [] });
      this.completeFlip(crtcId);
      return;
    }
    const fb = this.fbs.get(fbId);
    if (!fb || fb.width < x + m.hdisplay || fb.height < y + m.vdisplay) throw drmError('drmModeSetCrtc', 22);
    Object.assign(s, {
      fbId,
      mode: m,
      connectors: [...connectorIds],
      src: { x, y, w: m.hdisplay, h: m.vdisplay },
      dst: { x: 0, y: 0, w: m.hdisplay, h: m.vdisplay },
    });
  }

  pageFlip(crtcId: number, fbId: number, userData: number): void {
    this.calls.push(`pageFlip ${crtcId} fb ${fbId}`);
    if (!this.master) throw drmError('drmModePageFlip', 13);
    if (this.pendingFlips.has(crtcId)) throw drmError('drmModePageFlip', 16);
    const fb = this.fbs.get(fbId);
    const s = this.state.get(crtcId)!;
    if (!fb || !s.mode || fb.width < s.mode.hdisplay || fb.height < s.mode.vdisplay)
      throw drmError('drmModePageFlip', 22);
    this.pendingFlips.set(crtcId, { fbId, userData });
  }

  atomicCommit(
    objIds: Uint32Array,
    propIds: Uint32Array,
    values: BigUint64Array,
    flags: number,
    userData: number,
  ): void {
    if (!this.atomicOn) throw drmError('drmModeAtomicCommit', 22);
    const test = (flags & 0x100) !== 0;
    this.calls.push(`atomic${test ? ' test' : ''}`);
    if (!this.master && !test) throw drmError('drmModeAtomicCommit', 13);
    const byName = new Map<string, bigint>();
    // Overlay planes' properties apart, by plane.
    const overlayProps = new Map<number, Map<string, bigint>>();
    for (let i = 0; i < objIds.length; i++) {
      const name = this.propName(objIds[i]!, propIds[i]!);
      if (this.overlayIds.has(objIds[i]!)) {
        const m = overlayProps.get(objIds[i]!) ?? new Map<string, bigint>();
        m.set(name, values[i]!);
        overlayProps.set(objIds[i]!, m);
      } else byName.set(name, values[i]!);
    }
    const plane = this.res.planes.find((p) => objIds.includes(p.id) && !this.overlayIds.has(p.id));
    // zpos written on any plane: in its range and not immutable (drm_property_change_valid_get).
    const zpos = new Map<number, bigint>();
    for (let i = 0; i < objIds.length; i++) {
      const p = this.res.planes.find((x) => x.id === objIds[i])?.props.find((x) => x.id === propIds[i]);
      if (p?.name !== 'zpos') continue;
      const v = values[i]!;
      if ((p.flags & DRM_MODE_PROP_IMMUTABLE) !== 0 || v < p.values[0]! || v > p.values[1]!)
        throw drmError('drmModeAtomicCommit', 22);
      zpos.set(objIds[i]!, v);
    }
    const crtcId =
      Number(byName.get('CRTC_ID') ?? 0n) || (plane ? this.res.crtcs[Math.log2(plane.possibleCrtcs)]!.id : 0);
    const s = this.state.get(crtcId);
    if (!s) throw drmError('drmModeAtomicCommit', 22);
    const modeBlob = byName.get('MODE_ID');
    const m = modeBlob !== undefined ? (modeBlob === 0n ? null : (this.blobs.get(Number(modeBlob)) ?? null)) : s.mode;
    const fbId = Number(byName.get('FB_ID') ?? BigInt(s.fbId));
    if (byName.get('ACTIVE') === 0n || fbId === 0) {
      if (!test) {
        Object.assign(s, { fbId: 0, mode: null, connectors: [] });
        for (const o of this.overlayState.values()) if (o.crtcId === crtcId) Object.assign(o, { fbId: 0, crtcId: 0 });
        this.completeFlip(crtcId);
      }
      return;
    }
    const fb = this.fbs.get(fbId);
    if (!fb || !m) throw drmError('drmModeAtomicCommit', 22);
    const src = {
      x: Number(byName.get('SRC_X')! >> 16n),
      y: Number(byName.get('SRC_Y')! >> 16n),
      w: Number(byName.get('SRC_W')! >> 16n),
      h: Number(byName.get('SRC_H')! >> 16n),
    };
    const dst = {
      x: Number(byName.get('CRTC_X')!),
      y: Number(byName.get('CRTC_Y')!),
      w: Number(byName.get('CRTC_W')!),
      h: Number(byName.get('CRTC_H')!),
    };
    const full = dst.x === 0 && dst.y === 0 && dst.w === m.hdisplay && dst.h === m.vdisplay;
    if (!full && !this.opts.canPosition) throw drmError('drmModeAtomicCommit(TEST_ONLY)', 22);
    if ((src.w !== dst.w || src.h !== dst.h) && !this.opts.canScale)
      throw drmError('drmModeAtomicCommit(TEST_ONLY)', 22);
    if (src.x + src.w > fb.width || src.y + src.h > fb.height) throw drmError('drmModeAtomicCommit', 22);
    const overlays = this.overlaysOf(overlayProps, crtcId, m, test);
    if (test) return;
    if (flags & 0x01) {
      if (this.pendingFlips.has(crtcId)) throw drmError('drmModeAtomicCommit', 16);
      this.pendingFlips.set(crtcId, { fbId, userData, src, dst, overlays, zpos });
      return;
    }
    Object.assign(s, { fbId, mode: m, src, dst });
    for (const [id, o] of overlays) this.overlayState.set(id, o);
    for (const [id, z] of zpos) this.zpos.set(id, z);
  }

  /**
   * The overlay planes a commit sets, checked as a driver would: a framebuffer that exists, a
   * source inside it, no scaling unless the plane scales, inside the mode, and no more lit on the
   * card than overlayLimit. Throws EINVAL (TEST_ONLY included) where the card refuses.
   */
  private overlaysOf(
    props: ReadonlyMap<number, ReadonlyMap<string, bigint>>,
    crtcId: number,
    m: DrmModeInfo,
    test: boolean,
  ): Map<number, OverlayState> {
    const out = new Map<number, OverlayState>();
    for (const [id, p] of props) {
      const fbId = Number(p.get('FB_ID') ?? 0n);
      const on = fbId !== 0 && Number(p.get('CRTC_ID') ?? 0n) === crtcId;
      const num = (n: string): number => Number(p.get(n) ?? 0n);
      const st: OverlayState = {
        fbId: on ? fbId : 0,
        crtcId: on ? crtcId : 0,
        src: { x: num('SRC_X') >> 16, y: num('SRC_Y') >> 16, w: num('SRC_W') >> 16, h: num('SRC_H') >> 16 },
        dst: { x: num('CRTC_X'), y: num('CRTC_Y'), w: num('CRTC_W'), h: num('CRTC_H') },
      };
      if (on) {
        const fb = this.fbs.get(fbId);
        const { src, dst } = st;
        if (
          !fb ||
          src.x + src.w > fb.width ||
          src.y + src.h > fb.height ||
          ((src.w !== dst.w || src.h !== dst.h) && !(this.overlaySpecs.get(id)?.scales ?? this.opts.canScale)) ||
          dst.x < 0 ||
          dst.y < 0 ||
          dst.x + dst.w > m.hdisplay ||
          dst.y + dst.h > m.vdisplay
        )
          throw drmError('drmModeAtomicCommit', 22);
      }
      out.set(id, st);
    }
    const lit = new Set([...this.overlayState].filter(([, o]) => o.fbId !== 0).map(([id]) => id));
    for (const [id, o] of out)
      if (o.fbId !== 0) lit.add(id);
      else lit.delete(id);
    const lights = [...out.values()].some((o) => o.fbId !== 0);
    if (lit.size > this.overlayLimit) {
      if (test && lights) this.overlayTests.refused++;
      throw drmError('drmModeAtomicCommit', 22);
    }
    if (test && lights) this.overlayTests.accepted++;
    return out;
  }

  createModeBlob(m: DrmModeInfo): number {
    const id = this.nextBlob++;
    this.blobs.set(id, m);
    return id;
  }

  destroyBlob(id: number): void {
    this.blobs.delete(id);
  }

  handleEvents(): DrmFlipEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  close(): void {
    this.closed = true;
  }

  /** A CRTC turned off completes its pending flip: the kernel sends the event, nothing is shown. */
  private completeFlip(crtcId: number): void {
    const f = this.pendingFlips.get(crtcId);
    if (!f) return;
    this.pendingFlips.delete(crtcId);
    this.events.push({ crtcId, sequence: ++this.seq, sec: 100, usec: 500 * this.seq, userData: f.userData });
  }

  private propName(obj: number, propId: number): string {
    const all = [...this.res.crtcs, ...this.res.connectors, ...this.res.planes];
    const o = all.find((x) => x.id === obj);
    const p = o?.props.find((x) => x.id === propId);
    if (!p) throw drmError('drmModeAtomicCommit', 22);
    return p.name;
  }
}
