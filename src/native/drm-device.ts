// Types of the addon's libdrm device class (native/src/drm*.cc): a DRM/KMS device node, with
// methods that are one libdrm call each. The KMS output (src/drm/kms) holds the policy.
import type { NativeMapping } from './addon.js';

/** drmModeModeInfo, field for field. */
export interface DrmModeInfo {
  readonly clock: number;
  readonly hdisplay: number;
  readonly hsyncStart: number;
  readonly hsyncEnd: number;
  readonly htotal: number;
  readonly hskew: number;
  readonly vdisplay: number;
  readonly vsyncStart: number;
  readonly vsyncEnd: number;
  readonly vtotal: number;
  readonly vscan: number;
  readonly vrefresh: number;
  readonly flags: number;
  readonly type: number;
  readonly name: string;
}

export interface DrmProperty {
  readonly id: number;
  readonly name: string;
  readonly value: bigint;
  readonly flags: number;
  readonly enums: readonly { readonly name: string; readonly value: bigint }[];
  readonly values: readonly bigint[];
}

export interface DrmCrtc {
  readonly id: number;
  /** Position in the resources' CRTC list; possible_crtcs bitmasks refer to it. */
  readonly index?: number;
  readonly bufferId: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly mode: DrmModeInfo | null;
  readonly gammaSize: number;
  readonly props: readonly DrmProperty[];
}

export interface DrmEncoder {
  readonly id: number;
  readonly type: number;
  readonly crtcId: number;
  readonly possibleCrtcs: number;
  readonly possibleClones: number;
}

export type DrmConnection = 'connected' | 'disconnected' | 'unknown';

export interface DrmConnector {
  readonly id: number;
  /** The kernel's name: `<type>-<type id>`, e.g. HDMI-A-1, Virtual-1. */
  readonly name: string;
  readonly type: number;
  readonly typeId: number;
  readonly connection: DrmConnection;
  readonly mmWidth: number;
  readonly mmHeight: number;
  readonly encoderId: number;
  readonly encoders: readonly number[];
  readonly modes: readonly DrmModeInfo[];
  readonly props: readonly DrmProperty[];
}

export interface DrmPlane {
  readonly id: number;
  readonly crtcId: number;
  readonly fbId: number;
  readonly possibleCrtcs: number;
  readonly formats: readonly number[];
  readonly props: readonly DrmProperty[];
}

export interface DrmResources {
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly crtcs: readonly DrmCrtc[];
  readonly encoders: readonly DrmEncoder[];
  readonly connectors: readonly DrmConnector[];
  readonly planes: readonly DrmPlane[];
}

export interface DrmFlipEvent {
  readonly crtcId: number;
  readonly sequence: number;
  readonly sec: number;
  readonly usec: number;
  readonly userData: number;
}

export interface DrmVersion {
  readonly name: string;
  readonly desc: string;
  readonly date: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** An open DRM device node (non-blocking). close() is idempotent and frees what the file owned. */
export interface NativeDrmDevice {
  readonly fd: number;
  readonly path: string;
  version(): DrmVersion;
  /** Capability value, or a negative errno where the kernel does not know it. */
  getCap(cap: number): number;
  /** 0 when granted, else errno. */
  setClientCap(cap: number, value: number): number;
  setMaster(): void;
  dropMaster(): void;
  isMaster(): boolean;
  resources(): DrmResources;
  getCrtc(crtcId: number): DrmCrtc;
  objectProperties(objId: number, objType: number): DrmProperty[];
  createDumb(width: number, height: number, bpp: number): { handle: number; pitch: number; size: number };
  mapDumb(handle: number, size: number): NativeMapping;
  destroyDumb(handle: number): void;
  primeFdToHandle(dmabufFd: number): number;
  primeHandleToFd(handle: number): number;
  closeHandle(handle: number): void;
  addFb2(
    width: number,
    height: number,
    fourcc: number,
    handles: readonly number[],
    pitches: readonly number[],
    offsets: readonly number[],
    modifiers?: readonly bigint[] | null,
  ): number;
  rmFb(fbId: number): void;
  setCrtc(
    crtcId: number,
    fbId: number,
    x: number,
    y: number,
    connectorIds: readonly number[],
    mode: DrmModeInfo | null,
  ): void;
  pageFlip(crtcId: number, fbId: number, userData: number): void;
  atomicCommit(
    objIds: Uint32Array,
    propIds: Uint32Array,
    values: BigUint64Array,
    flags: number,
    userData: number,
  ): void;
  createModeBlob(mode: DrmModeInfo): number;
  destroyBlob(blobId: number): void;
  handleEvents(): DrmFlipEvent[];
  close(): void;
}

export interface DrmConstructors {
  readonly DrmDevice: new (path: string) => NativeDrmDevice;
}
