// A vkbd's live connection: the frontend's page mapped, its event channel bound, a producer on the
// in-ring, and a target in the input router. Everything is released by close(), on every path: a
// failed open releases what it took before it throws.
import { KbdField } from '../kbdif/constants.js';
import type { KbdEvent } from '../kbdif/events.js';
import { InRingProducer, type InRingStats } from '../kbdif/shared-page.js';
import { FRONTEND_KEYS, parseFrontendVkbd, type ServedFeatures, type ToolstackVkbd } from '../kbdif/xenstore-fields.js';
import { nativeSharedMemory } from '../displif/shared-memory.js';
import { showValue } from '../displif/xenstore-fields.js';
import type { EventChannel, GrantMapping, XenPlatform } from '../xen/platform.js';
import type { XsOps } from '../xenstore/types.js';
import { grantRefsOf } from '../util/ids.js';
import type { InputTarget, InputTargets } from '../input/target.js';
import type { RegistryCounts } from './buffer-registry.js';
import type { ConnectorStatus } from './connection.js';
import { DeviceConfigError, RingSetupError } from './device-config.js';
import type { OpenRequest, ServedConnection } from './device-protocol.js';

export interface VkbdConnectionEnv {
  readonly platform: XenPlatform;
  readonly targets: InputTargets;
  readonly xs: XsOps;
}

export class VkbdConnection implements ServedConnection {
  private mapping: GrantMapping | undefined;
  private channel: EventChannel | undefined;
  private detach: (() => void) | undefined;
  private producer: InRingProducer | undefined;
  private live = true;
  private broken = false;
  /** Events that arrived while the device was broken or closing. */
  private lost = 0;
  /** The producer's counts when it was let go. */
  private last: InRingStats = { written: 0, backlog: 0, coalesced: 0, dropped: 0 };

  private constructor(private readonly req: OpenRequest) {}

  static async open(
    env: VkbdConnectionEnv,
    req: OpenRequest,
    ts: ToolstackVkbd,
    offered: ServedFeatures,
  ): Promise<VkbdConnection> {
    const values = await Promise.all(FRONTEND_KEYS.map((k) => env.xs.tryRead(`${req.fePath}/${k}`)));
    const fe = parseFrontendVkbd(
      req.fePath,
      (k) => values[FRONTEND_KEYS.indexOf(k as (typeof FRONTEND_KEYS)[number])],
      offered,
    );
    if (!fe.ok) throw new DeviceConfigError(fe.error, 'frontend');
    const c = new VkbdConnection(req);
    try {
      try {
        c.mapping = await env.platform.mapGrants(req.domid, grantRefsOf([fe.value.pageGref]), {
          writable: true,
        });
      } catch (err) {
        throw new RingSetupError(
          `${req.fePath}/${KbdField.RING_GREF} = ${showValue(String(fe.value.pageGref))}: cannot map the page: ${(err as Error).message}`,
          err,
        );
      }
      c.producer = new InRingProducer(nativeSharedMemory(c.mapping.bytes));
      try {
        c.channel = await env.platform.bindEventChannel(req.domid, fe.value.port, () => c.onFrontendEvent());
      } catch (err) {
        throw new RingSetupError(
          `${req.fePath}/${KbdField.EVT_CHANNEL} = ${showValue(String(fe.value.port))}: cannot bind the event channel: ${(err as Error).message}`,
          err,
        );
      }
      const target: InputTarget = {
        domid: req.domid,
        devId: req.devId,
        uniqueId: ts.uniqueId,
        width: fe.value.absPointer || fe.value.multiTouch ? offered.width : 0,
        height: fe.value.absPointer || fe.value.multiTouch ? offered.height : 0,
        absPointer: fe.value.absPointer,
        rawPointer: fe.value.rawPointer,
        multiTouch: fe.value.multiTouch,
        keyboard: !ts.disableKeyboard,
        pointer: !ts.disablePointer,
        send: (events) => c.send(events),
        stats: () => c.stats,
      };
      c.detach = env.targets.attach(target);
      req.log.info(
        {
          abs: target.absPointer,
          raw: target.rawPointer,
          touch: target.multiTouch,
          width: target.width,
          height: target.height,
        },
        `vkbd connected${ts.uniqueId ? ` (unique-id ${ts.uniqueId})` : ''}`,
      );
      return c;
    } catch (err) {
      await c.close();
      throw err;
    }
  }

  /** The ring's counts; events sent while the device was closing count as dropped. */
  private get stats(): InRingStats {
    const r = this.producer?.stats ?? this.last;
    return { ...r, dropped: r.dropped + this.lost };
  }

  private send(events: readonly KbdEvent[]): void {
    if (!this.live || this.broken || !this.producer) {
      this.lost += events.length;
      return;
    }
    this.after(this.producer.send(events));
  }

  /** The frontend consumed (Linux notifies after each pass): write what waited, check its indices. */
  private onFrontendEvent(): void {
    if (!this.live || this.broken || !this.producer) return;
    this.after(this.producer.flush());
  }

  private after(r: { notify: boolean; violation?: string }): void {
    if (r.violation !== undefined) {
      this.broken = true;
      this.req.log.warn(`frontend broke the kbdif protocol: ${r.violation}`);
      this.req.events.emit('broken', r.violation);
      return;
    }
    if (r.notify) this.channel?.notify();
  }

  status(): ConnectorStatus[] {
    return [];
  }

  counts(): RegistryCounts {
    return { buffers: 0, framebuffers: 0, pages: 0 };
  }

  close(): Promise<void> {
    this.live = false;
    this.detach?.();
    this.detach = undefined;
    this.channel?.close();
    this.channel = undefined;
    if (this.producer) this.last = this.producer.stats;
    this.producer = undefined;
    this.mapping?.close();
    this.mapping = undefined;
    return Promise.resolve();
  }
}
