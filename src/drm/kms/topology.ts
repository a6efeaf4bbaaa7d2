// Who drives what on a DRM card: each connector we serve gets a CRTC of its own (one its encoders
// can reach, preferably the one already lighting it), that CRTC's primary plane, and the overlay
// planes that can reach it and no other pipe took (a composed layout puts guests on them). Pure:
// reads a DrmResources snapshot.
import type { DrmConnector, DrmCrtc, DrmPlane, DrmProperty, DrmResources } from '../../native/drm-device.js';

export function findProp(props: readonly DrmProperty[], name: string): DrmProperty | undefined {
  return props.find((p) => p.name === name);
}

export type PlaneType = 'primary' | 'overlay' | 'cursor' | 'unknown';

/** From the plane's immutable "type" enum (present once DRM_CLIENT_CAP_UNIVERSAL_PLANES is set). */
export function planeType(plane: DrmPlane): PlaneType {
  const p = findProp(plane.props, 'type');
  const e = p?.enums.find((x) => x.value === p.value);
  switch (e?.name) {
    case 'Primary':
      return 'primary';
    case 'Overlay':
      return 'overlay';
    case 'Cursor':
      return 'cursor';
    default:
      return 'unknown';
  }
}

export interface Pipe {
  readonly connector: DrmConnector;
  readonly crtc: DrmCrtc;
  /** The CRTC's primary plane, when the card lists planes. */
  readonly plane: DrmPlane | undefined;
  /** Overlay planes of this CRTC alone, bottom to top as the card lists them (empty: none). */
  readonly overlays: readonly DrmPlane[];
}

function crtcIndex(res: DrmResources, crtc: DrmCrtc): number {
  return crtc.index ?? res.crtcs.indexOf(crtc);
}

function primaryPlaneFor(res: DrmResources, crtc: DrmCrtc, taken: Set<number>): DrmPlane | undefined {
  const bit = 1 << crtcIndex(res, crtc);
  const candidates = res.planes.filter((p) => (p.possibleCrtcs & bit) !== 0 && !taken.has(p.id));
  return (
    candidates.find((p) => planeType(p) === 'primary' && p.crtcId === crtc.id) ??
    candidates.find((p) => planeType(p) === 'primary')
  );
}

/** Whether a connector can show something now: a monitor is connected and reports modes. */
export function isUsable(c: DrmConnector): boolean {
  return c.connection === 'connected' && c.modes.length > 0;
}

/** What pipes already in use hold: their CRTCs and planes are not given again. */
export interface PipesInUse {
  readonly crtcs: ReadonlySet<number>;
  readonly planes: ReadonlySet<number>;
  /** Connectors already served (by name). */
  readonly connectors: ReadonlySet<string>;
}

/**
 * Pipes for the connectors that can show something (connected, with modes) and are not served
 * already. A connector no free CRTC can reach is left out and listed in `unserved`.
 */
export function assignPipes(res: DrmResources, inUse?: PipesInUse): { pipes: Pipe[]; unserved: DrmConnector[] } {
  const usable = res.connectors.filter((c) => isUsable(c) && !inUse?.connectors.has(c.name));
  const takenCrtcs = new Set<number>(inUse?.crtcs);
  const takenPlanes = new Set<number>(inUse?.planes);
  const pipes: Pipe[] = [];
  const unserved: DrmConnector[] = [];
  const reachable = (c: DrmConnector): DrmCrtc[] => {
    let mask = 0;
    for (const id of c.encoders) mask |= res.encoders.find((e) => e.id === id)?.possibleCrtcs ?? 0;
    return res.crtcs.filter((crtc) => (mask & (1 << crtcIndex(res, crtc))) !== 0);
  };
  // Connectors with the fewest choices first, so a flexible one does not take a constrained one's CRTC.
  const order = [...usable].sort((a, b) => reachable(a).length - reachable(b).length);
  for (const c of order) {
    const options = reachable(c).filter((crtc) => !takenCrtcs.has(crtc.id));
    const current = res.encoders.find((e) => e.id === c.encoderId)?.crtcId;
    const crtc = options.find((x) => x.id === current) ?? options[0];
    if (crtc === undefined) {
      unserved.push(c);
      continue;
    }
    takenCrtcs.add(crtc.id);
    const plane = primaryPlaneFor(res, crtc, takenPlanes);
    if (plane) takenPlanes.add(plane.id);
    const bit = 1 << crtcIndex(res, crtc);
    const overlays = res.planes.filter(
      (p) => planeType(p) === 'overlay' && (p.possibleCrtcs & bit) !== 0 && !takenPlanes.has(p.id),
    );
    for (const p of overlays) takenPlanes.add(p.id);
    pipes.push({ connector: c, crtc, plane, overlays });
  }
  // Back in the kernel's connector order, which is what users see in other tools.
  pipes.sort((a, b) => res.connectors.indexOf(a.connector) - res.connectors.indexOf(b.connector));
  return { pipes, unserved };
}
