// The life of a KMS output, as one state: which fields exist in which state is the type's business,
// so an output cannot be "closed but active" or "paused without a configuration to restore".
import type { OutputConfig } from '../output.js';
import type { ModeChoice } from './modes.js';
import type { Placement } from './placement.js';
import type { ScanoutBuffers } from './scanout-buffers.js';
import type { Pipe } from './topology.js';

/** How a guest configuration reaches the screen of one pipe. */
export interface Active {
  readonly cfg: OutputConfig;
  readonly pipe: Pipe;
  readonly choice: ModeChoice;
  /** Placements to try for zero-copy, best first; the copy path always uses `copyPlacement`. */
  readonly candidates: readonly Placement[];
  readonly copyPlacement: Placement;
  /** The copy path's screen memory for this mode. */
  readonly buffers: ScanoutBuffers;
}

export type OutputState =
  /** Connected, no guest configuration: the CRTC is off. */
  | { readonly kind: 'off' }
  /** Showing `active` (or about to: a modeset may be in progress). */
  | { readonly kind: 'on'; readonly active: Active }
  /** Another process holds DRM master: nothing reaches the screen; `active` is restored on regain. */
  | { readonly kind: 'paused'; readonly active: Active | undefined }
  /**
   * The monitor was unplugged: the pipe and every scanout buffer are given back; the guest's
   * configuration, if any, is shown again when a monitor comes back on the same connector.
   */
  | { readonly kind: 'unplugged'; readonly cfg: OutputConfig | undefined }
  /** Closed with its backend: every call fails or drops. */
  | { readonly kind: 'gone' };

/** The configuration being shown or kept for later, in any state. */
export function activeOf(s: OutputState): Active | undefined {
  return s.kind === 'on' || s.kind === 'paused' ? s.active : undefined;
}
