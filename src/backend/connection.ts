// A device's live connection: outputs claimed, rings and event pages mapped, event channels bound,
// buffers and framebuffers registered. Everything it holds is released by close(), in an order
// that never leaves an output reading unmapped pages: stop serving, unbind, turn outputs off,
// detach framebuffers, unmap buffers, unmap rings, give outputs back (an output still busy with a
// modeset past the deadline only once that ended and was undone). A frontend that breaks the
// ring protocol is told as the 'broken' event on the emitter its device gave (src/util/events.ts).
import type { EventEmitter } from 'node:events';
import { BackRing } from '../displif/back-ring.js';
import { EventProducer } from '../displif/event-page.js';
import { nativeSharedMemory } from '../displif/shared-memory.js';
import { showValue } from '../displif/xenstore-fields.js';
import type { Frame, LayoutPlace, ScanoutPath } from '../drm/output.js';
import type { Logger } from '../util/log.js';
import { grantRefsOf, type DomId, type EvtchnPort, type GrantRef } from '../util/ids.js';
import type { EventChannel, GrantMapping, XenPlatform } from '../xen/platform.js';
import { BufferRegistry, releaseBacking, type Framebuffer, type RegistryCounts } from './buffer-registry.js';
import {
  ConnectorChannel,
  emptyChannelStats,
  type ChannelHooks,
  type ChannelObserver,
  type ChannelStats,
} from './connector-channel.js';
import { DeviceConfigError, RingSetupError, type ConnectorConfig, type DeviceConfig } from './device-config.js';
import type { ConnectionEvents } from './device-protocol.js';
import type { ConnectorState, DeviceContext, Scanout } from './ops/context.js';
import type { GuestIdentity } from './guest-identity.js';
import type { OutputClaim, OutputMap } from './output-map.js';
import { turnOff } from './ops/scanout.js';
import { PageRate, type Quotas } from './quotas.js';
import type { Size } from '../util/geometry.js';

export interface ConnectionEnv {
  readonly platform: XenPlatform;
  readonly outputs: OutputMap;
  readonly quotas: Quotas;
  nextFramebufferId(): number;
  /** Metrics hooks on the request path (optional). */
  readonly observer?: ChannelObserver;
}

export interface ConnectorStatus {
  readonly index: number;
  readonly uniqueId: string;
  readonly output: string;
  readonly resolution: Size;
  readonly scanout: Scanout | null;
  /** How the shown framebuffer reaches the screen. Undefined while off. */
  readonly path: ScanoutPath | undefined;
  /** Whose pages the shown framebuffer is: the guest's, or ours granted to it (be-alloc). Undefined while off. */
  readonly buffer: 'guest' | 'be-alloc' | undefined;
  readonly stats: Readonly<ChannelStats>;
  /** Flip events written to the event page so far (the next event id). */
  readonly eventsWritten: number;
  /** Where its output shows more than it (a layout): its own picture, for the viewer. */
  readonly connectorFrame?: () => Frame | undefined;
  /** Where its output shows more than it (a layout): its place there now (input follows it). */
  readonly layoutPlace?: () => LayoutPlace | undefined;
}

interface ConnectorParts {
  claim?: OutputClaim;
  ring?: GrantMapping;
  evt?: GrantMapping;
  reqChannel?: EventChannel;
  evtChannel?: EventChannel;
  channel?: ConnectorChannel;
  events?: EventProducer;
}

export class Connection {
  private closing: Promise<void> | undefined;

  private constructor(
    /** Undefined only for the clean-up of a connection that failed before it had one. */
    private readonly ctx: (DeviceContext & { live: boolean }) | undefined,
    private readonly parts: readonly ConnectorParts[],
    private readonly log: Logger,
  ) {}

  /**
   * Claims outputs, maps and binds every connector. Throws DeviceConfigError when dom0's
   * configuration has no output for a connector, RingSetupError when the frontend's pages or
   * ports cannot be had, after releasing whatever it had taken. `events` is listened to before
   * the call: a frontend may break the protocol while later connectors are being opened.
   */
  static async open(
    env: ConnectionEnv,
    guest: GuestIdentity,
    devId: number,
    cfg: DeviceConfig,
    log: Logger,
    events: EventEmitter<ConnectionEvents>,
  ): Promise<Connection> {
    const domid: DomId = guest.domid;
    const parts: ConnectorParts[] = cfg.connectors.map(() => ({}));
    const connectors: ConnectorState[] = [];
    let ctx: (DeviceContext & { live: boolean }) | undefined;
    try {
      for (const c of cfg.connectors) {
        const r = env.outputs.claim({ guest, devId, index: c.index, uniqueId: c.uniqueId, resolution: c.resolution });
        if (!r.ok) throw new DeviceConfigError(r.error, r.fault);
        parts[c.index]!.claim = r.claim;
        connectors.push({
          index: c.index,
          uniqueId: c.uniqueId,
          resolution: c.resolution,
          output: r.claim.output,
          scanout: null,
        });
      }
      ctx = {
        domid,
        version: cfg.version,
        beAlloc: cfg.beAlloc,
        platform: env.platform,
        allocator: parts[0]!.claim!.backend,
        registry: new BufferRegistry(env.quotas),
        connectors,
        nextFramebufferId: () => env.nextFramebufferId(),
        live: true,
      };
      const conn = new Connection(ctx, parts, log);
      let broken = false;
      const onViolation = (reason: string): void => {
        if (broken) return;
        broken = true;
        // Logged by the device with the reason, thinned (the guest can do this on every connection).
        events.emit('broken', reason);
      };
      const hooks = { ...(env.observer ? { observer: env.observer } : {}), pageRate: PageRate.of(env.quotas), log };
      for (const c of cfg.connectors)
        await openConnector(env.platform, domid, c, parts[c.index]!, ctx, connectors[c.index]!, hooks, onViolation);
      return conn;
    } catch (err) {
      await new Connection(ctx, parts, log).close();
      throw err;
    }
  }

  status(): ConnectorStatus[] {
    return (this.ctx?.connectors ?? []).map((c) => {
      const p = this.parts[c.index]!;
      return {
        index: c.index,
        uniqueId: c.uniqueId,
        output: c.output.name,
        resolution: c.resolution,
        scanout: c.scanout,
        ...this.pathOf(c),
        stats: p.channel?.stats ?? emptyChannelStats(),
        eventsWritten: p.events?.stats.written ?? 0,
        ...(c.output.connectorFrame ? { connectorFrame: () => c.output.connectorFrame?.() } : {}),
        ...(c.output.layoutPlace ? { layoutPlace: () => c.output.layoutPlace?.() } : {}),
      };
    });
  }

  /** The output says how the pixels reach the screen, for dom0's buffers (be-alloc) as for the guest's. */
  private pathOf(c: ConnectorState): Pick<ConnectorStatus, 'path' | 'buffer'> {
    const fb = c.scanout ? this.ctx?.registry.framebuffer(c.scanout.fbCookie) : undefined;
    if (!fb) return { path: undefined, buffer: undefined };
    return { path: c.output.pathOf(fb.desc).path, buffer: fb.dbuf.backing.kind === 'backend' ? 'be-alloc' : 'guest' };
  }

  counts(): RegistryCounts {
    return this.ctx?.registry.counts() ?? { buffers: 0, framebuffers: 0, pages: 0 };
  }

  /** Idempotent; resolves when everything is released. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const ctx = this.ctx;
    if (ctx) ctx.live = false;
    for (const p of this.parts) {
      p.reqChannel?.close();
      p.evtChannel?.close();
    }
    await Promise.all(this.parts.map((p) => p.channel?.stop()));
    // Outputs still working on a modeset past the deadline (a hung display): the rest is released
    // now, but such an output is given back only once its modeset ended and was undone, so that
    // it is never anyone else's while it may still show this guest.
    const busy = new Map<number, Promise<void>>();
    let framebuffers: readonly Framebuffer[] = [];
    if (ctx) {
      for (const c of ctx.connectors) {
        c.scanout = null;
        const running = this.parts[c.index]!.channel?.modesetRunning;
        if (running) busy.set(c.index, running);
        else await turnOff(c.output);
      }
      const drained = ctx.registry.drain();
      framebuffers = drained.framebuffers;
      for (const fb of framebuffers) for (const c of ctx.connectors) c.output.release(fb.desc);
      for (const b of drained.buffers) releaseBacking(b);
    }
    for (const p of this.parts) {
      p.ring?.close();
      p.evt?.close();
    }
    for (const [index, p] of this.parts.entries()) {
      const running = busy.get(index);
      if (!running) {
        p.claim?.release();
        continue;
      }
      const claim = p.claim!;
      this.log.warn(
        { output: claim.output.name },
        `output ${claim.output.name} is still busy with connector ${index}'s modeset after the connection ended: it stays off and claimed until the modeset ends`,
      );
      void running
        .then(async () => {
          await turnOff(claim.output);
          for (const fb of framebuffers) claim.output.release(fb.desc);
        })
        .catch((err: unknown) => this.log.error({ err, output: claim.output.name }, 'output failed to let go'))
        // Given back whatever the output did: it was asked to turn off and to let go.
        .finally(() => claim.release());
    }
  }
}

async function openConnector(
  platform: XenPlatform,
  domid: DomId,
  c: ConnectorConfig,
  p: ConnectorParts,
  ctx: DeviceContext,
  state: ConnectorState,
  hooks: ChannelHooks,
  onViolation: (reason: string) => void,
): Promise<void> {
  const where = (key: string, value: number): string => `connector ${c.index} ${key} = ${showValue(String(value))}`;
  const map = async (key: string, ref: GrantRef): Promise<GrantMapping> => {
    try {
      return await platform.mapGrants(domid, grantRefsOf([ref]), { writable: true });
    } catch (err) {
      throw new RingSetupError(`${where(key, ref)}: cannot map the page: ${(err as Error).message}`, err);
    }
  };
  const bind = async (key: string, port: EvtchnPort, onEvent: () => void): Promise<EventChannel> => {
    try {
      return await platform.bindEventChannel(domid, port, onEvent);
    } catch (err) {
      throw new RingSetupError(`${where(key, port)}: cannot bind the event channel: ${(err as Error).message}`, err);
    }
  };
  p.ring = await map('req-ring-ref', c.reqRingRef);
  p.evt = await map('evt-ring-ref', c.evtRingRef);
  const ring = new BackRing(nativeSharedMemory(p.ring.bytes));
  p.events = new EventProducer(nativeSharedMemory(p.evt.bytes));
  const channel = new ConnectorChannel(ctx, state, ring, p.events, hooks);
  channel.events.once('violation', onViolation);
  p.channel = channel;
  p.reqChannel = await bind('req-event-channel', c.reqPort, () => channel.kick());
  // The frontend does not notify on the event channel; bound so our notifications reach it.
  p.evtChannel = await bind('evt-event-channel', c.evtPort, () => {});
  channel.attach(p.reqChannel, p.evtChannel);
}
