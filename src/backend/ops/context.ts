// What a request handler sees: the device's buffers and quotas, its connectors and their outputs,
// and the platform seam. Handlers are policy only; rings, channels and timers live elsewhere.
import type { ProtocolVersion } from '../../displif/constants.js';
import type { Resolution } from '../../displif/xenstore-fields.js';
import type { Output, OutputBackend } from '../../drm/output.js';
import type { SourcedRect } from '../../util/geometry.js';
import type { Cookie, DomId } from '../../util/ids.js';
import type { XenPlatform } from '../../xen/platform.js';
import type { BufferRegistry, Framebuffer } from '../buffer-registry.js';

/**
 * What SET_CONFIG last established on a connector, normalised: a viewport on the connector that
 * shows the framebuffer's region starting at (srcX, srcY). The header's form has source (0, 0).
 */
export interface Scanout extends ScanoutView {
  readonly fbCookie: Cookie;
}

/** A connector's picture: where on the connector (x, y, width, height) and from where in the framebuffer. */
export type ScanoutView = Required<SourcedRect>;

export interface ConnectorState {
  readonly index: number;
  readonly uniqueId: string;
  readonly resolution: Resolution;
  readonly output: Output;
  /** null while the connector is off. */
  scanout: Scanout | null;
}

/** Where PG_FLIP hands a validated flip: the connector's channel, which owns timing and events. */
export interface FlipQueue {
  /** Flips queued and not yet answered with an event. */
  readonly pending: number;
  /** Queues `fb` on the connector's output; the event follows when it is shown or dropped. */
  queue(fb: Framebuffer): void;
}

export interface DeviceContext {
  readonly domid: DomId;
  readonly version: ProtocolVersion;
  /** The toolstack allowed be-alloc (`be-alloc` = 1). */
  readonly beAlloc: boolean;
  readonly platform: XenPlatform;
  /** Allocates be-alloc buffers (the output backend of connector 0). */
  readonly allocator: OutputBackend;
  readonly registry: BufferRegistry;
  readonly connectors: readonly ConnectorState[];
  /** Ids for FramebufferDesc, unique for the daemon's lifetime. */
  nextFramebufferId(): number;
  /** False once the connection is being torn down: late async results must undo themselves. */
  readonly live: boolean;
}

/** A handler's answer: a status (0 or negative Xen errno) and, for GET_EDID, the EDID size. */
export interface OpResult {
  readonly status: number;
  readonly edidSz?: number;
}
