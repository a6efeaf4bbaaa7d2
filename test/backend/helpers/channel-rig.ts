// One connector channel over a fake platform, with the guest's side of its ring and event page:
// the unit under test for the channel's timing and fairness guarantees, without a device or XenStore.
import { BackRing } from '../../../src/displif/back-ring.js';
import { EventConsumer, EventProducer } from '../../../src/displif/event-page.js';
import type { DecodedEvent } from '../../../src/displif/events.js';
import { FrontRing } from '../../../src/displif/front-ring.js';
import type { DecodedResponse } from '../../../src/displif/responses.js';
import { plainSharedMemory } from '../../../src/displif/shared-memory.js';
import { BufferRegistry } from '../../../src/backend/buffer-registry.js';
import { ConnectorChannel, type ChannelHooks } from '../../../src/backend/connector-channel.js';
import type { ConnectorState, DeviceContext } from '../../../src/backend/ops/context.js';
import { DEFAULT_QUOTAS, type Quotas } from '../../../src/backend/quotas.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { Output } from '../../../src/drm/output.js';
import { domId } from '../../../src/util/ids.js';
import { FakePlatform } from './fake-platform.js';

export interface ChannelRigOptions {
  readonly domid?: number;
  /** The guest's memory, in pages. */
  readonly guestPages?: number;
  readonly uniqueId?: string;
  readonly quotas?: Quotas;
  readonly beAlloc?: boolean;
  /** Protocol version of the device (2 has GET_EDID); default 1. */
  readonly version?: 1 | 2;
  /** Replaces or adds channel hooks; violations (the channel's 'violation' events) are collected in `violations`. */
  readonly hooks?: Partial<ChannelHooks>;
}

export function channelRig(output: Output, opts: ChannelRigOptions = {}) {
  const platform = new FakePlatform();
  const domid = opts.domid ?? 3;
  const guest = platform.guest(domid, opts.guestPages ?? 1024);
  const [ringRef, evtRef] = guest.grantPages(2);
  const front = FrontRing.init(plainSharedMemory(guest.page(ringRef!)));
  const consumer = EventConsumer.init(plainSharedMemory(guest.page(evtRef!)));
  const conn: ConnectorState = {
    index: 0,
    uniqueId: opts.uniqueId ?? 'id0',
    resolution: { width: 64, height: 64 },
    output,
    scanout: null,
  };
  let ids = 0;
  const ctx: DeviceContext & { live: boolean } = {
    domid: domId(domid),
    version: opts.version ?? 1,
    beAlloc: opts.beAlloc ?? false,
    platform,
    allocator: new HeadlessBackend(),
    registry: new BufferRegistry(opts.quotas ?? DEFAULT_QUOTAS),
    connectors: [conn],
    nextFramebufferId: () => ++ids,
    live: true,
  };
  const violations: string[] = [];
  const ch = new ConnectorChannel(
    ctx,
    conn,
    new BackRing(plainSharedMemory(guest.page(ringRef!))),
    new EventProducer(plainSharedMemory(guest.page(evtRef!))),
    {
      ...opts.hooks,
    },
  );
  ch.events.on('violation', (r) => violations.push(r));
  const responses: DecodedResponse[] = [];
  const events: DecodedEvent[] = [];
  const poll = (): void => {
    front.consumeResponses(64, (r) => responses.push(r));
    consumer.consume((e) => events.push(e));
  };
  return { platform, guest, front, ch, ctx, conn, responses, events, poll, violations, ringRef: ringRef! };
}
