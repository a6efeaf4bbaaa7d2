// Where a guest configuration goes on a connector: the mode (exact or preferred), the placements to
// try for zero-copy, best first, and the centred one the copy path uses. Pure.
import type { DrmModeInfo } from '../../native/drm-device.js';
import type { OutputConfig } from '../output.js';
import { EINVAL, KmsError } from './errors.js';
import { describeMode, selectMode, type ModeChoice } from './modes.js';
import { centredPlacement, guestScreen, scaledPlacement, type Placement } from './placement.js';

export interface ScreenPlan {
  readonly choice: ModeChoice;
  /** Placements to try for zero-copy, best first. */
  readonly candidates: readonly Placement[];
  /** Where the copy path draws the guest screen: centred, unscaled. */
  readonly copyPlacement: Placement;
}

/** `scales`: a scaled placement is worth trying (asked for, and the committer can scale). Throws KmsError (EINVAL). */
export function planScreen(
  output: string,
  cfg: OutputConfig,
  modes: readonly DrmModeInfo[],
  scales: boolean,
): ScreenPlan {
  const screen = guestScreen(cfg);
  const choice = selectMode(modes, screen.width, screen.height);
  if (!choice) throw new KmsError(`output ${output}: the connector reports no modes`, EINVAL);
  const { hdisplay: mw, vdisplay: mh } = choice.mode;
  const centred = centredPlacement(cfg, mw, mh);
  if (!centred)
    throw new KmsError(
      `output ${output}: viewport ${cfg.width}x${cfg.height}+${cfg.x}+${cfg.y} is off the screen`,
      EINVAL,
    );
  const scaled = choice.how === 'preferred' && scales ? scaledPlacement(cfg, mw, mh) : undefined;
  return { choice, candidates: scaled ? [scaled, centred] : [centred], copyPlacement: centred };
}

/** The log line for a plan: "HDMI-A-1: guest 800x600 on 1024x768@60.00 (...)". */
export function describePlan(output: string, cfg: OutputConfig, choice: ModeChoice, scales: boolean): string {
  const s = guestScreen(cfg);
  const how =
    choice.how === 'exact'
      ? 'the exact mode'
      : `no ${s.width}x${s.height} mode: the preferred mode, guest screen ${scales ? 'scaled to fit where the plane can scale, else ' : ''}centred`;
  return `${output}: guest ${s.width}x${s.height} on ${describeMode(choice.mode)} (${how})`;
}
