// Which overlay plane shows which layer of a composed layout, so that the planes stack as the
// layout does: above the primary plane (everything the CPU composed), each layer above the one
// under it. The kernel stacks planes by their `zpos` property (lower below; equal values in an
// order it leaves undefined, so never used here): a mutable zpos is set within its range, an
// immutable one is the card's fixed stacking and is taken as it is. A card without zpos stacks
// its overlays above the primary in the order it lists them. Which plane scales (SRC and CRTC
// sizes differing) no property says: `fits` carries what test-only commits found. Pure.
import type { DrmPlane } from '../../native/drm-device.js';
import { findProp } from './topology.js';

const DRM_MODE_PROP_IMMUTABLE = 1 << 2;

/** A plane's zpos: the range it may be set in (min = max when immutable), and its property id. */
export interface Zpos {
  readonly propId: number;
  readonly min: bigint;
  readonly max: bigint;
  readonly mutable: boolean;
}

export function zposOf(plane: DrmPlane): Zpos | undefined {
  const p = findProp(plane.props, 'zpos');
  if (!p) return undefined;
  if ((p.flags & DRM_MODE_PROP_IMMUTABLE) !== 0 || p.values.length < 2)
    return { propId: p.id, min: p.value, max: p.value, mutable: false };
  const [min, max] = [p.values[0]!, p.values[1]!];
  return min < max ? { propId: p.id, min, max, mutable: true } : { propId: p.id, min, max: min, mutable: false };
}

/** An overlay plane chosen for a layer, and the zpos to set on it (undefined: immutable or none). */
export interface StackedPlane {
  readonly plane: DrmPlane;
  readonly zpos: bigint | undefined;
}

export interface Stacking {
  /** The zpos to set on the primary plane (its lowest, where mutable), else undefined. */
  readonly primaryZpos: bigint | undefined;
  /** One per layer, bottom to top. */
  readonly planes: readonly StackedPlane[];
}

/** Where a plane may go: a fixed place, or a range to choose in. */
interface Place {
  readonly plane: DrmPlane;
  readonly lo: bigint;
  readonly hi: bigint;
  readonly mutable: boolean;
}

/** The primary's place and the overlays' places; overlays with no known place are left out. */
function placesOf(primary: DrmPlane, overlays: readonly DrmPlane[]): { base: Place; places: Place[] } {
  const pz = zposOf(primary);
  const zs = overlays.map(zposOf);
  if (!pz && zs.every((z) => z === undefined)) {
    // No zpos anywhere: the primary at the bottom, the overlays in the card's order above it.
    return {
      base: { plane: primary, lo: 0n, hi: 0n, mutable: false },
      places: overlays.map((plane, i) => ({ plane, lo: BigInt(i + 1), hi: BigInt(i + 1), mutable: false })),
    };
  }
  // zpos on some planes (the kernel asks drivers for all or none): a primary without it is taken
  // as the bottom; an overlay without it has no known place and is not used.
  const base: Place = pz
    ? { plane: primary, lo: pz.min, hi: pz.mutable ? pz.min : pz.max, mutable: pz.mutable }
    : { plane: primary, lo: -(1n << 63n), hi: -(1n << 63n), mutable: false };
  const places: Place[] = [];
  overlays.forEach((plane, i) => {
    const z = zs[i];
    if (z) places.push({ plane, lo: z.min, hi: z.max, mutable: z.mutable });
  });
  return { base, places };
}

/**
 * Planes for `count` layers, bottom to top, each above the primary and the layer under it, layer
 * i only on a plane for which fits(i, plane) holds; or why there is none. A depth-first search,
 * lowest zpos first (so a mutable range keeps room above), bounded by remembering dead ends.
 */
export function stackLayers(
  primary: DrmPlane,
  overlays: readonly DrmPlane[],
  count: number,
  fits: (layer: number, plane: DrmPlane) => boolean = () => true,
): Stacking | string {
  const { base, places } = placesOf(primary, overlays);
  const primaryZpos = base.mutable ? base.lo : undefined;
  if (count === 0) return { primaryZpos, planes: [] };
  if (count > places.length)
    return `${count} guests for ${places.length} overlay plane${places.length === 1 ? '' : 's'} with a known stacking`;
  const chosen: StackedPlane[] = [];
  const used = new Set<number>();
  const dead = new Set<string>();
  const search = (layer: number, below: bigint): boolean => {
    if (layer === count) return true;
    const key = `${layer}:${below}:${[...used].sort().join(',')}`;
    if (dead.has(key)) return false;
    const options = places
      .filter((p) => !used.has(p.plane.id) && fits(layer, p.plane))
      .map((p) => ({ p, z: p.mutable ? (p.lo > below ? p.lo : below + 1n) : p.lo }))
      .filter(({ p, z }) => z > below && z <= p.hi)
      .sort((a, b) => (a.z !== b.z ? (a.z < b.z ? -1 : 1) : a.p.hi < b.p.hi ? -1 : a.p.hi > b.p.hi ? 1 : 0));
    for (const { p, z } of options) {
      used.add(p.plane.id);
      chosen.push({ plane: p.plane, zpos: p.mutable ? z : undefined });
      if (search(layer + 1, z)) return true;
      chosen.pop();
      used.delete(p.plane.id);
    }
    dead.add(key);
    return false;
  };
  if (search(0, base.hi)) return { primaryZpos, planes: chosen };
  return `the overlay planes' zpos (and scaling where asked) cannot stack ${count} guest${count === 1 ? '' : 's'} in the layout's order above the primary plane`;
}

/** The most layers the planes can stack above the primary (any layer on any plane). */
export function stackDepth(primary: DrmPlane | undefined, overlays: readonly DrmPlane[]): number {
  if (!primary) return 0;
  for (let n = overlays.length; n > 0; n--) if (typeof stackLayers(primary, overlays, n) !== 'string') return n;
  return 0;
}
