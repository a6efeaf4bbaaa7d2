// Which display mode shows a guest screen: the connector's mode of exactly the guest's size if it
// has one, else its preferred mode with the guest screen centred in it. Pure.
import { DRM_MODE_TYPE_PREFERRED } from '../../native/abi.js';
import type { DrmModeInfo } from '../../native/drm-device.js';
import type { Mode } from '../output.js';

const DRM_MODE_FLAG_INTERLACE = 1 << 4;
const DRM_MODE_FLAG_DBLSCAN = 1 << 5;

/** Refresh rate in millihertz from the timings (vrefresh is rounded; clock is in kHz). */
export function refreshMilliHz(m: DrmModeInfo): number {
  if (m.htotal === 0 || m.vtotal === 0) return m.vrefresh * 1000;
  let mhz = (m.clock * 1e6) / (m.htotal * m.vtotal);
  if (m.flags & DRM_MODE_FLAG_INTERLACE) mhz *= 2;
  if (m.flags & DRM_MODE_FLAG_DBLSCAN) mhz /= 2;
  if (m.vscan > 1) mhz /= m.vscan;
  return Math.round(mhz);
}

export function isPreferred(m: DrmModeInfo): boolean {
  return (m.type & DRM_MODE_TYPE_PREFERRED) !== 0;
}

export function toMode(m: DrmModeInfo): Mode {
  return { width: m.hdisplay, height: m.vdisplay, refreshMilliHz: refreshMilliHz(m), preferred: isPreferred(m) };
}

export type ModeChoice =
  { readonly how: 'exact'; readonly mode: DrmModeInfo } | { readonly how: 'preferred'; readonly mode: DrmModeInfo };

/** Closest to 60 Hz first (the Linux frontend runs its CRTCs at 60 Hz), then the higher rate. */
function byRefresh(a: DrmModeInfo, b: DrmModeInfo): number {
  const da = Math.abs(refreshMilliHz(a) - 60000);
  const db = Math.abs(refreshMilliHz(b) - 60000);
  return da - db || refreshMilliHz(b) - refreshMilliHz(a);
}

/**
 * The mode for a guest screen of width x height: an exact size match (preferred-flagged first,
 * then the rate nearest 60 Hz, progressive before interlaced), else the preferred mode, else the
 * first the driver lists (drivers list their best first). undefined when there are no modes.
 */
export function selectMode(modes: readonly DrmModeInfo[], width: number, height: number): ModeChoice | undefined {
  if (modes.length === 0) return undefined;
  const exact = modes
    .filter((m) => m.hdisplay === width && m.vdisplay === height)
    .sort(
      (a, b) =>
        Number(isPreferred(b)) - Number(isPreferred(a)) ||
        Number((a.flags & DRM_MODE_FLAG_INTERLACE) !== 0) - Number((b.flags & DRM_MODE_FLAG_INTERLACE) !== 0) ||
        byRefresh(a, b),
    );
  if (exact.length > 0) return { how: 'exact', mode: exact[0]! };
  return { how: 'preferred', mode: modes.find(isPreferred) ?? modes[0]! };
}

/** "1920x1080@60.00" for logs. */
export function describeMode(m: DrmModeInfo): string {
  return `${m.hdisplay}x${m.vdisplay}@${(refreshMilliHz(m) / 1000).toFixed(2)}`;
}
