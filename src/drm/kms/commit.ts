// Putting a framebuffer on a CRTC: one interface, two implementations (atomic-committer.ts,
// legacy-committer.ts), chosen once per card by the KMS backend. What differs between them that the
// output must know is a capability here, never a test of which one it is.
import type { DrmModeInfo, DrmPlane } from '../../native/drm-device.js';
import type { Rect } from '../../util/geometry.js';
import type { Placement } from './placement.js';
import type { Pipe } from './topology.js';

/** A framebuffer on an overlay plane: its source rectangle, unscaled or scaled to `dst` on the mode. */
export interface OverlayLayer {
  readonly plane: DrmPlane;
  readonly fbId: number;
  readonly src: Rect;
  readonly dst: Rect;
  /** The zpos set on the plane (where its zpos is mutable; undefined: left as it is). */
  readonly zpos?: bigint;
}

export interface ScanoutState {
  readonly pipe: Pipe;
  readonly mode: DrmModeInfo;
  readonly fbId: number;
  readonly placement: Placement;
  /**
   * Overlay planes above the primary, bottom to top; the pipe's overlay planes not listed are
   * turned off by the commit. Absent: the commit leaves the overlays as they are (none lit).
   */
  readonly overlays?: readonly OverlayLayer[];
  /** The zpos set on the primary plane with the overlays (where mutable), else left as it is. */
  readonly primaryZpos?: bigint;
}

export interface Committer {
  /** Which API it speaks, for logs and status only. */
  readonly kind: 'atomic' | 'legacy';
  /** A plane may be scaled, so a scaled placement is worth asking canShow about. */
  readonly canScale: boolean;
  /** Why canShow said no, as the operator reads it (counted as a copy reason). */
  readonly refusal: string;
  /** Overlay planes a state on `pipe` may light (none where the committer cannot set planes apart). */
  overlays(pipe: Pipe): readonly DrmPlane[];
  /** Makes `pipe` ready for commits; a string says why it cannot be driven this way. */
  adopt(pipe: Pipe): true | string;
  /** Whether the display can show this state as it is (no side effect). */
  canShow(s: ScanoutState): boolean;
  /** Sets mode and framebuffer now (blocking; SET_CONFIG and master regain only). Throws the native error. */
  modeset(s: ScanoutState): void;
  /** Queues `s.fbId` for the next vblank; the completion event carries `token`. Throws the native error. */
  flip(s: ScanoutState, token: number): void;
  /** Turns the pipe off. Throws the native error. */
  disable(pipe: Pipe): void;
  /** Frees what the committer created (mode blobs). */
  close(): void;
}
