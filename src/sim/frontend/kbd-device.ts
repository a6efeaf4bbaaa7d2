// One vkbd device as Linux xen-kbdfront 6.1 drives it: at probe it reads the backend's features and
// sizes once, asks for multi-touch and the absolute pointer when offered, grants a zeroed page,
// allocates an event channel, publishes page-ref, page-gref and event-channel in one transaction
// and goes Initialised without waiting; on the backend's InitWait it goes Connected by itself. On
// the backend's Closing/Closed it goes Closed and keeps page and channel, so the next InitWait
// connects the same page again. Each notification consumes the in-ring, applies the events to the
// guest's input devices (pointer position, keys and buttons down, touches) and notifies back.
import { XenbusState } from '../../displif/constants.js';
import { nativeSharedMemory } from '../../displif/shared-memory.js';
import { KbdField, LINUX_DEFAULT_HEIGHT, LINUX_DEFAULT_WIDTH } from '../../kbdif/constants.js';
import type { DecodedKbdEvent } from '../../kbdif/events.js';
import { InRingConsumer } from '../../kbdif/shared-page.js';
import type { XenStore, XsWatch } from '../../xenstore/types.js';
import type { DomainKernel } from '../domain-kernel.js';
import { setupRing, teardownRing, type SharedPage } from './channel.js';
import type { FrontendReport } from './protocol.js';

/** What the guest's input devices show now, as a program reading /dev/input would track it. */
export interface GuestInputState {
  /** The absolute pointer, in the device's range [0, width] x [0, height]. */
  x: number;
  y: number;
  readonly down: Set<number>;
  readonly touches: Map<number, { x: number; y: number }>;
}

export class FrontKbd {
  state: number = XenbusState.Unknown;
  uniqueId: string | undefined;
  abs = false;
  width = LINUX_DEFAULT_WIDTH;
  height = LINUX_DEFAULT_HEIGHT;
  multiTouch = false;
  /** A position arrived: there is a pointer to draw. */
  moved = false;
  readonly input: GuestInputState = { x: 0, y: 0, down: new Set(), touches: new Map() };
  private backendPath = '';
  private shared: SharedPage | undefined;
  private consumer: InRingConsumer | undefined;
  private watch: XsWatch | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly xs: XenStore,
    private readonly kernel: DomainKernel,
    readonly devid: number,
    readonly nodename: string,
    private readonly report: (r: FrontendReport) => void,
  ) {}

  async probe(): Promise<boolean> {
    const backend = await this.xs.tryRead(`${this.nodename}/backend`);
    const backendId = await this.xs.tryRead(`${this.nodename}/backend-id`);
    if (backend === undefined || backendId === undefined || !/^\d+$/.test(backendId)) return false;
    this.backendPath = backend;
    const read = async (k: string, dflt: number): Promise<number> => {
      const v = await this.xs.tryRead(`${backend}/${k}`).catch(() => undefined);
      const n = v === undefined ? NaN : Number.parseInt(v, 10);
      return Number.isFinite(n) ? n : dflt;
    };
    this.uniqueId = await this.xs.tryRead(`${backend}/${KbdField.UNIQUE_ID}`).catch(() => undefined);
    this.multiTouch = (await read(KbdField.FEAT_MTOUCH, 0)) !== 0;
    if (this.multiTouch) await this.xs.write(`${this.nodename}/${KbdField.REQ_MTOUCH}`, '1');
    this.abs = (await read(KbdField.FEAT_ABS_POINTER, 0)) !== 0;
    this.width = await read(KbdField.WIDTH, LINUX_DEFAULT_WIDTH);
    this.height = await read(KbdField.HEIGHT, LINUX_DEFAULT_HEIGHT);
    if (this.abs) await this.xs.write(`${this.nodename}/${KbdField.REQ_ABS_POINTER}`, '1');
    const shared = await setupRing(this.kernel, Number(backendId));
    this.shared = shared;
    this.consumer = new InRingConsumer(nativeSharedMemory(shared.page.bytes));
    this.kernel.hv.listen(shared.port, () => this.onEvent());
    await this.xs.transaction(async (t) => {
      await t.write(`${this.nodename}/${KbdField.RING_REF}`, String(shared.page.first));
      await t.write(`${this.nodename}/${KbdField.RING_GREF}`, String(shared.ref));
      await t.write(`${this.nodename}/${KbdField.EVT_CHANNEL}`, String(shared.port));
    });
    await this.switchState(XenbusState.Initialised);
    this.watch = await this.xs.watch(`${backend}/state`, () => void this.serial(() => this.backendChanged()));
    return true;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn).catch((err: unknown) => {
      this.report({
        kind: 'error',
        message: `vkbd ${this.devid}: ${err instanceof Error ? err.message : String(err)}`,
      });
    });
    this.queue = run;
    return run;
  }

  /** xenkbd_backend_changed */
  private async backendChanged(): Promise<void> {
    if (this.closed) return;
    const raw = await this.xs.tryRead(`${this.backendPath}/state`).catch(() => undefined);
    const be = raw === undefined ? XenbusState.Unknown : Number.parseInt(raw, 10);
    this.report({ kind: 'kbd-state', devid: this.devid, frontend: this.state, backend: be });
    switch (be) {
      case XenbusState.InitWait:
        await this.switchState(XenbusState.Connected);
        break;
      case XenbusState.Connected:
        if (this.state !== XenbusState.Connected) await this.switchState(XenbusState.Connected);
        this.report({
          kind: 'kbd-connected',
          devid: this.devid,
          abs: this.abs,
          width: this.width,
          height: this.height,
          multiTouch: this.multiTouch,
          uniqueId: this.uniqueId ?? null,
        });
        break;
      case XenbusState.Closed:
      case XenbusState.Closing:
        // xenbus_frontend_closed (also when the backend's Closing was missed)
        await this.switchState(XenbusState.Closed);
        break;
    }
  }

  private onEvent(): void {
    if (this.closed || !this.consumer || !this.shared) return;
    const r = this.consumer.consume();
    if (r.violation !== undefined) {
      this.report({ kind: 'kbd-violation', devid: this.devid, reason: r.violation });
      return;
    }
    for (const e of r.events) this.apply(e);
    if (r.events.length > 0)
      this.report({
        kind: 'input',
        devid: this.devid,
        events: r.events,
        x: this.input.x,
        y: this.input.y,
        down: [...this.input.down],
      });
    this.kernel.notify(this.shared.port);
  }

  /** What Linux's handlers make of each event, as the guest's input devices then read. */
  private apply(e: DecodedKbdEvent): void {
    const s = this.input;
    switch (e.kind) {
      case 'pos':
        if (this.abs) {
          this.moved = true;
          s.x = Math.max(0, Math.min(this.width, e.absX));
          s.y = Math.max(0, Math.min(this.height, e.absY));
        }
        return;
      case 'motion':
        if (!this.abs) {
          s.x += e.relX;
          s.y += e.relY;
        }
        return;
      case 'key':
        if (e.pressed) s.down.add(e.keycode);
        else s.down.delete(e.keycode);
        return;
      case 'mt-down':
      case 'mt-motion':
        if (this.multiTouch) s.touches.set(e.contact, { x: e.absX, y: e.absY });
        return;
      case 'mt-up':
        s.touches.delete(e.contact);
        return;
      default:
        return;
    }
  }

  private async switchState(state: number): Promise<void> {
    if (state === this.state) return;
    await this.xs.transaction(async (t) => {
      if ((await t.tryRead(`${this.nodename}/state`)) === undefined) return;
      await t.write(`${this.nodename}/state`, String(state));
    });
    this.state = state;
  }

  /** The device node went (or the guest shuts down): unbind and end access. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watch?.close().catch(() => undefined);
    await this.queue;
    if (this.shared) {
      this.kernel.hv.unlisten(this.shared.port);
      teardownRing(this.kernel, this.shared);
      this.shared = undefined;
    }
  }
}
