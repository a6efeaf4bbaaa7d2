// The DeviceContext a request handler sees, for tests that call the handlers directly.
import { BufferRegistry } from '../../../src/backend/buffer-registry.js';
import { DEFAULT_QUOTAS, type Quotas } from '../../../src/backend/quotas.js';
import type { ConnectorState, DeviceContext } from '../../../src/backend/ops/context.js';
import type { OutputBackend } from '../../../src/drm/output.js';
import { domId } from '../../../src/util/ids.js';
import type { XenPlatform } from '../../../src/xen/platform.js';

/** Domain 5's device on `platform`, be-alloc off and protocol v2 unless told otherwise. */
export function deviceContext(
  platform: XenPlatform,
  allocator: OutputBackend,
  connectors: ConnectorState[],
  opts: { quotas?: Quotas; beAlloc?: boolean; version?: 1 | 2 } = {},
): DeviceContext & { live: boolean } {
  let ids = 0;
  return {
    domid: domId(5),
    version: opts.version ?? 2,
    beAlloc: opts.beAlloc ?? false,
    platform,
    allocator,
    registry: new BufferRegistry(opts.quotas ?? DEFAULT_QUOTAS),
    connectors,
    nextFramebufferId: () => ++ids,
    live: true,
  };
}
