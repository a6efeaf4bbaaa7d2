// A minimal frontend for in-process backend tests: it speaks XenStore as the guest (its own
// domain's connection, so Xen's permissions apply), shares ring and event pages through the fake
// platform, and sends requests one at a time like xen-drm-front. The full Linux-like frontend is
// src/sim/frontend, used by the multi-process tests.
import { XenbusState } from '../../../src/displif/constants.js';
import { EventConsumer } from '../../../src/displif/event-page.js';
import type { DecodedEvent } from '../../../src/displif/events.js';
import { FrontRing } from '../../../src/displif/front-ring.js';
import type { Request } from '../../../src/displif/requests.js';
import type { DecodedResponse } from '../../../src/displif/responses.js';
import { plainSharedMemory } from '../../../src/displif/shared-memory.js';
import type { GrantRef } from '../../../src/util/ids.js';
import type { XenStore } from '../../../src/xenstore/types.js';
import type { FakeGuest, FakePlatform } from './fake-platform.js';

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Chan {
  ring: FrontRing;
  events: EventConsumer;
  reqPort: number;
  evtPort: number;
  ringRef: GrantRef;
  evtRef: GrantRef;
  seen: DecodedEvent[];
}

let portBase = 10;

export class TestFrontend {
  chans: Chan[] = [];
  private nextId = 1;

  constructor(
    readonly xs: XenStore,
    readonly platform: FakePlatform,
    readonly guest: FakeGuest,
    readonly fePath: string,
    readonly bePath: string,
  ) {}

  async state(): Promise<number | undefined> {
    const v = await this.xs.tryRead(`${this.bePath}/state`);
    return v === undefined ? undefined : Number(v);
  }

  waitBackend(state: number, timeoutMs = 5000): Promise<true> {
    return waitFor(`backend state ${state}`, async () => (await this.state()) === state, timeoutMs);
  }

  setState(s: number): Promise<void> {
    return this.xs.write(`${this.fePath}/state`, String(s));
  }

  /** Allocates fresh rings for `n` connectors and publishes them in one transaction, then Initialised. */
  async publish(n: number, tamper?: (key: string, value: string) => string): Promise<void> {
    this.chans = [];
    for (let i = 0; i < n; i++) {
      const [ringRef, evtRef] = this.guest.grantPages(2) as [GrantRef, GrantRef];
      const ring = FrontRing.init(plainSharedMemory(this.guest.page(ringRef)));
      const events = EventConsumer.init(plainSharedMemory(this.guest.page(evtRef)));
      portBase += 2;
      this.chans.push({ ring, events, reqPort: portBase, evtPort: portBase + 1, ringRef, evtRef, seen: [] });
    }
    const t = tamper ?? ((_k: string, v: string) => v);
    await this.xs.transaction(async (tx) => {
      for (const [i, c] of this.chans.entries()) {
        await tx.write(`${this.fePath}/${i}/req-ring-ref`, t(`${i}/req-ring-ref`, String(c.ringRef)));
        await tx.write(`${this.fePath}/${i}/req-event-channel`, t(`${i}/req-event-channel`, String(c.reqPort)));
        await tx.write(`${this.fePath}/${i}/evt-ring-ref`, t(`${i}/evt-ring-ref`, String(c.evtRef)));
        await tx.write(`${this.fePath}/${i}/evt-event-channel`, t(`${i}/evt-event-channel`, String(c.evtPort)));
      }
      await tx.write(`${this.fePath}/state`, String(XenbusState.Initialised));
    });
  }

  /** The handshake a Linux frontend does: wait for InitWait, publish, wait for Connected, go Connected. */
  async connect(n: number): Promise<void> {
    await this.waitBackend(XenbusState.InitWait);
    await this.publish(n);
    await this.waitBackend(XenbusState.Connected);
    await this.setState(XenbusState.Connected);
  }

  /** Sends one request on connector `c` and waits for its response (one in flight, like Linux). */
  async request(c: number, req: Request, timeoutMs = 3000): Promise<DecodedResponse> {
    const ch = this.chans[c]!;
    const id = this.nextId++ & 0xffff;
    ch.ring.writeRequest(req, id);
    if (ch.ring.pushRequests()) this.platform.fire(ch.reqPort);
    return this.response(c, id, timeoutMs);
  }

  /** Waits for the response with `id` on connector `c`. */
  async response(c: number, id: number, timeoutMs = 3000): Promise<DecodedResponse> {
    const ch = this.chans[c]!;
    let got: DecodedResponse | undefined;
    return waitFor(
      `response ${id} on connector ${c}`,
      () => {
        ch.ring.consumeResponses(32, (r) => {
          if (r.id === id) got = r;
        });
        ch.ring.finalCheckForResponses();
        return got;
      },
      timeoutMs,
    );
  }

  /** Events received on connector `c` so far (consumes what is on the page). */
  events(c: number): DecodedEvent[] {
    const ch = this.chans[c]!;
    ch.events.consume((e) => ch.seen.push(e));
    return ch.seen;
  }
}
