// The copy path's screen memory: two XRGB8888 dumb buffers of the mode's size per output, so the
// next frame is written into the one not being scanned out (no tearing), each with its DRM
// framebuffer. Borders around a centred picture are cleared once per placement, not per frame.
import type { NativeDrmDevice } from '../../native/drm-device.js';
import type { NativeMapping } from '../../native/addon.js';
import { clearTarget, type CopyTarget } from './copy.js';

const XR24 = 0x34325258;

export interface ScanoutBuffer {
  readonly fbId: number;
  readonly target: CopyTarget;
  /** The placement this buffer's borders were cleared for. */
  clearedFor: string | undefined;
}

interface Owned extends ScanoutBuffer {
  readonly handle: number;
  readonly mapping: NativeMapping;
}

export class ScanoutBuffers {
  private readonly bufs: Owned[] = [];
  private front: Owned | undefined;
  private closed = false;

  constructor(
    private readonly dev: NativeDrmDevice,
    readonly width: number,
    readonly height: number,
  ) {
    try {
      for (let i = 0; i < 2; i++) this.bufs.push(this.create());
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The buffer to draw the next frame into: never the one on screen. */
  back(): ScanoutBuffer {
    return this.bufs[0] === this.front ? this.bufs[1]! : this.bufs[0]!;
  }

  /** Records that `fbId` is on screen now (a flip to it completed, or a modeset showed it). */
  shown(fbId: number): void {
    const b = this.bufs.find((x) => x.fbId === fbId);
    if (b) this.front = b;
  }

  owns(fbId: number): boolean {
    return this.bufs.some((b) => b.fbId === fbId);
  }

  /** Idempotent. The caller has moved the CRTC off these buffers (or is closing the device). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.bufs.splice(0)) {
      try {
        this.dev.rmFb(b.fbId);
      } catch {
        /* device gone or fb already removed with it */
      }
      b.mapping.unmap();
      try {
        this.dev.destroyDumb(b.handle);
      } catch {
        /* as above */
      }
    }
    this.front = undefined;
  }

  private create(): Owned {
    const d = this.dev.createDumb(this.width, this.height, 32);
    let mapping: NativeMapping | undefined;
    try {
      mapping = this.dev.mapDumb(d.handle, d.size);
      const fbId = this.dev.addFb2(this.width, this.height, XR24, [d.handle], [d.pitch], [0]);
      const target = { bytes: new Uint8Array(mapping.buffer), pitch: d.pitch, width: this.width, height: this.height };
      clearTarget(target);
      return { fbId, handle: d.handle, mapping, target, clearedFor: undefined };
    } catch (err) {
      mapping?.unmap();
      this.dev.destroyDumb(d.handle);
      throw err;
    }
  }
}
