// Legacy modesetting: SetCrtc and PageFlip. A framebuffer can only be shown covering the whole
// mode from its origin, so nothing is positioned or scaled; anything else is copied.
import type { DrmPlane, NativeDrmDevice } from '../../native/drm-device.js';
import type { Committer, ScanoutState } from './commit.js';
import type { Pipe } from './topology.js';

export class LegacyCommitter implements Committer {
  readonly kind = 'legacy';
  readonly canScale = false;
  readonly refusal = 'the guest screen does not fill the mode and legacy KMS cannot position a plane';
  constructor(private readonly dev: NativeDrmDevice) {}

  /** SetCrtc and PageFlip know one plane. */
  overlays(): readonly DrmPlane[] {
    return [];
  }

  adopt(): true {
    return true;
  }

  canShow(s: ScanoutState): boolean {
    const { dst, scaled } = s.placement;
    return !scaled && dst.x === 0 && dst.y === 0 && dst.width === s.mode.hdisplay && dst.height === s.mode.vdisplay;
  }

  modeset(s: ScanoutState): void {
    const { src } = s.placement;
    this.dev.setCrtc(s.pipe.crtc.id, s.fbId, src.x, src.y, [s.pipe.connector.id], s.mode);
  }

  flip(s: ScanoutState, token: number): void {
    this.dev.pageFlip(s.pipe.crtc.id, s.fbId, token);
  }

  disable(pipe: Pipe): void {
    this.dev.setCrtc(pipe.crtc.id, 0, 0, 0, [], null);
  }

  close(): void {}
}
