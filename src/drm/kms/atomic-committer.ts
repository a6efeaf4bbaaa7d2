// Atomic modesetting, where the card granted DRM_CLIENT_CAP_ATOMIC: one commit sets mode,
// connector, plane and its source/destination rectangles, and TEST_ONLY asks the driver beforehand
// whether a placement (centred, scaled) is possible, and whether guest buffers may go on overlay
// planes above the primary, at the zpos chosen for them (a composed layout asks this per frame).
import {
  DRM_MODE_ATOMIC_ALLOW_MODESET,
  DRM_MODE_ATOMIC_NONBLOCK,
  DRM_MODE_ATOMIC_TEST_ONLY,
  DRM_MODE_PAGE_FLIP_EVENT,
} from '../../native/abi.js';
import type { DrmModeInfo, DrmPlane, NativeDrmDevice } from '../../native/drm-device.js';
import type { Committer, ScanoutState } from './commit.js';
import type { Rect } from '../../util/geometry.js';
import { zposOf } from './plane-stack.js';
import { findProp, type Pipe } from './topology.js';

interface AtomicProps {
  readonly connCrtcId: number;
  readonly crtcModeId: number;
  readonly crtcActive: number;
  readonly plane: PlaneProps;
  /** The pipe's overlay planes that have every property a commit sets, by plane id. */
  readonly overlays: ReadonlyMap<number, PlaneProps>;
  /** Those planes, bottom to top as the card lists them. */
  readonly overlayPlanes: readonly DrmPlane[];
}

type PlaneProps = Record<
  'FB_ID' | 'CRTC_ID' | 'SRC_X' | 'SRC_Y' | 'SRC_W' | 'SRC_H' | 'CRTC_X' | 'CRTC_Y' | 'CRTC_W' | 'CRTC_H',
  number
> & {
  /** The plane's zpos property, where it can be set (mutable). */
  readonly zpos?: number;
};

function planePropsOf(plane: DrmPlane): PlaneProps | string {
  const out: Partial<Record<(typeof PLANE_PROPS)[number], number>> = {};
  for (const name of PLANE_PROPS) {
    const p = findProp(plane.props, name);
    if (!p) return `plane ${plane.id} lacks ${name}`;
    out[name] = p.id;
  }
  const z = zposOf(plane);
  return { ...(out as PlaneProps), ...(z?.mutable ? { zpos: z.propId } : {}) };
}

const PLANE_PROPS = [
  'FB_ID',
  'CRTC_ID',
  'SRC_X',
  'SRC_Y',
  'SRC_W',
  'SRC_H',
  'CRTC_X',
  'CRTC_Y',
  'CRTC_W',
  'CRTC_H',
] as const;

/** The property ids an atomic commit on this pipe needs, or why the pipe cannot go atomic. */
export function atomicPropsFor(pipe: Pipe): AtomicProps | string {
  if (pipe.plane === undefined) return `no primary plane for CRTC ${pipe.crtc.id}`;
  const conn = findProp(pipe.connector.props, 'CRTC_ID');
  const mode = findProp(pipe.crtc.props, 'MODE_ID');
  const active = findProp(pipe.crtc.props, 'ACTIVE');
  if (!conn || !mode || !active) return 'connector or CRTC lacks atomic properties';
  const plane = planePropsOf(pipe.plane);
  if (typeof plane === 'string') return plane;
  const overlays = new Map<number, PlaneProps>();
  const overlayPlanes: DrmPlane[] = [];
  for (const o of pipe.overlays) {
    const p = planePropsOf(o);
    // An overlay plane short of a property is simply not used.
    if (typeof p === 'string') continue;
    overlays.set(o.id, p);
    overlayPlanes.push(o);
  }
  return { connCrtcId: conn.id, crtcModeId: mode.id, crtcActive: active.id, plane, overlays, overlayPlanes };
}

class Request {
  readonly objs: number[] = [];
  readonly props: number[] = [];
  readonly values: bigint[] = [];
  add(obj: number, prop: number, value: number | bigint): this {
    this.objs.push(obj);
    this.props.push(prop);
    this.values.push(BigInt(value));
    return this;
  }
  commit(dev: NativeDrmDevice, flags: number, token = 0): void {
    dev.atomicCommit(
      Uint32Array.from(this.objs),
      Uint32Array.from(this.props),
      BigUint64Array.from(this.values),
      flags,
      token,
    );
  }
}

export class AtomicCommitter implements Committer {
  readonly kind = 'atomic';
  readonly canScale = true;
  readonly refusal = 'the display refused the plane placement (atomic test)';
  private readonly blobs = new Map<string, number>();
  private readonly props = new Map<number, AtomicProps>();

  constructor(private readonly dev: NativeDrmDevice) {}

  /** Registers a pipe; false (with nothing registered) when it lacks what atomic needs. */
  adopt(pipe: Pipe): true | string {
    const p = atomicPropsFor(pipe);
    if (typeof p === 'string') return p;
    this.props.set(pipe.crtc.id, p);
    return true;
  }

  overlays(pipe: Pipe): readonly DrmPlane[] {
    return this.props.get(pipe.crtc.id)?.overlayPlanes ?? [];
  }

  canShow(s: ScanoutState): boolean {
    try {
      this.full(s).commit(this.dev, DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_ALLOW_MODESET);
      return true;
    } catch {
      // A TEST_ONLY commit: the driver's refusal is the answer asked for.
      return false;
    }
  }

  modeset(s: ScanoutState): void {
    // Overlays off unless listed: a new mode starts from the primary alone.
    this.full({ ...s, overlays: s.overlays ?? [] }).commit(this.dev, DRM_MODE_ATOMIC_ALLOW_MODESET);
  }

  flip(s: ScanoutState, token: number): void {
    const r = new Request();
    this.planeState(r, s);
    r.commit(this.dev, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, token);
  }

  disable(pipe: Pipe): void {
    const p = this.propsOf(pipe);
    const planeId = pipe.plane!.id;
    const r = new Request()
      .add(pipe.connector.id, p.connCrtcId, 0)
      .add(pipe.crtc.id, p.crtcActive, 0)
      .add(pipe.crtc.id, p.crtcModeId, 0)
      .add(planeId, p.plane.FB_ID, 0)
      .add(planeId, p.plane.CRTC_ID, 0);
    for (const [id, o] of p.overlays) r.add(id, o.FB_ID, 0).add(id, o.CRTC_ID, 0);
    r.commit(this.dev, DRM_MODE_ATOMIC_ALLOW_MODESET);
  }

  close(): void {
    for (const id of this.blobs.values()) {
      try {
        this.dev.destroyBlob(id);
      } catch {
        /* the device is going away anyway */
      }
    }
    this.blobs.clear();
  }

  private propsOf(pipe: Pipe): AtomicProps {
    const p = this.props.get(pipe.crtc.id);
    if (!p) throw new Error(`CRTC ${pipe.crtc.id} was not adopted for atomic commits`);
    return p;
  }

  private blobFor(mode: DrmModeInfo): number {
    const key = JSON.stringify(mode);
    let id = this.blobs.get(key);
    if (id === undefined) {
      id = this.dev.createModeBlob(mode);
      this.blobs.set(key, id);
    }
    return id;
  }

  private full(s: ScanoutState): Request {
    const p = this.propsOf(s.pipe);
    const r = new Request()
      .add(s.pipe.connector.id, p.connCrtcId, s.pipe.crtc.id)
      .add(s.pipe.crtc.id, p.crtcModeId, this.blobFor(s.mode))
      .add(s.pipe.crtc.id, p.crtcActive, 1);
    this.planeState(r, s);
    return r;
  }

  private planeState(r: Request, s: ScanoutState): void {
    const props = this.propsOf(s.pipe);
    const { src, dst } = s.placement;
    place(r, s.pipe.plane!.id, props.plane, s.fbId, s.pipe.crtc.id, src, dst);
    if (!s.overlays) return;
    // The stacking (plane-stack.ts): zpos where the planes let it be set.
    if (s.primaryZpos !== undefined && props.plane.zpos !== undefined)
      r.add(s.pipe.plane!.id, props.plane.zpos, s.primaryZpos);
    const used = new Set<number>();
    for (const o of s.overlays) {
      const p = props.overlays.get(o.plane.id);
      if (!p) throw new Error(`plane ${o.plane.id} is not an overlay of CRTC ${s.pipe.crtc.id}`);
      used.add(o.plane.id);
      place(r, o.plane.id, p, o.fbId, s.pipe.crtc.id, o.src, o.dst);
      if (o.zpos !== undefined && p.zpos !== undefined) r.add(o.plane.id, p.zpos, o.zpos);
    }
    // The rest off: a guest that left its plane does not stay on screen.
    for (const [id, p] of props.overlays) if (!used.has(id)) r.add(id, p.FB_ID, 0).add(id, p.CRTC_ID, 0);
  }
}

function place(r: Request, id: number, p: PlaneProps, fbId: number, crtcId: number, src: Rect, dst: Rect): void {
  // Source rectangle in 16.16 fixed point.
  r.add(id, p.FB_ID, fbId)
    .add(id, p.CRTC_ID, crtcId)
    .add(id, p.SRC_X, BigInt(src.x) << 16n)
    .add(id, p.SRC_Y, BigInt(src.y) << 16n)
    .add(id, p.SRC_W, BigInt(src.width) << 16n)
    .add(id, p.SRC_H, BigInt(src.height) << 16n)
    .add(id, p.CRTC_X, dst.x)
    .add(id, p.CRTC_Y, dst.y)
    .add(id, p.CRTC_W, dst.width)
    .add(id, p.CRTC_H, dst.height);
}
