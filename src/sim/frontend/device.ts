// One vdispl device as Linux xen-drm-front 6.1 drives it (xen_drm_front.c): probe, the reaction
// to every backend state (displback_changed), initwait (read the configuration, make the
// channels, publish them in one transaction), connect, disconnect (Reconfiguring, then back to
// Initialising — at once, or with be-alloc only once userspace has let go of the card), and
// driver removal (Closing, up to 1 s waiting for the backend's InitWait, Closed).
// Watch callbacks are handled one at a time, as the kernel's xenwatch thread does.
import { EvtType, XenbusState } from '../../displif/constants.js';
import type { XenStore, XsWatch } from '../../xenstore/types.js';
import type { DomainKernel } from '../domain-kernel.js';
import { CtrlChannel, EvtChannel, setupRing, teardownRing, type ChannelObserver, type SharedPage } from './channel.js';
import { DrmCard } from './card.js';
import type { FrontendReport } from './protocol.js';
import { crashPoint } from './crash-points.js';
import { Errno } from '../../util/errno.js';

/** XEN_DRM_FRONT_MAX_CRTCS */
export const MAX_CONNECTORS = 4;
const { ENODEV, EIO, ENOMEM } = Errno;

export interface DeviceHooks {
  report(r: FrontendReport): void;
  readonly verbose: boolean;
  /** The card is up: userspace may start using it. */
  cardUp(dev: FrontDevice, card: DrmCard): void;
  /** The card was unplugged; resolves once userspace has closed it. */
  cardDown(dev: FrontDevice, card: DrmCard): Promise<void>;
}

export interface ConnectorPair {
  readonly ctrl: CtrlChannel;
  readonly evt: EvtChannel;
}

/** Like C's sscanf("%d"): optional blanks and sign, digits; the rest is returned. */
function scanInt(s: string): { value: number; rest: string } | undefined {
  const m = /^\s*([+-]?\d+)/.exec(s);
  if (!m) return undefined;
  return { value: Number(m[1]) | 0, rest: s.slice(m[0].length) };
}

/** xenbus_scanf(..., "%dx%d"): how many of the two were matched, and the values. */
export function scanResolution(s: string): { matched: number; width: number; height: number } {
  const w = scanInt(s);
  if (!w) return { matched: 0, width: 0, height: 0 };
  if (!w.rest.startsWith('x')) return { matched: 1, width: w.value, height: 0 };
  const h = scanInt(w.rest.slice(1));
  return h ? { matched: 2, width: w.value, height: h.value } : { matched: 1, width: w.value, height: 0 };
}

export class FrontDevice {
  /** Our XenbusState (xb_dev->state). */
  state: number = XenbusState.Unknown;
  backendState: number = XenbusState.Unknown;
  backendPath = '';
  backendId = -1;
  beAlloc = false;
  connectors: { width: number; height: number; path: string }[] = [];
  pairs: ConnectorPair[] | undefined;
  card: DrmCard | undefined;
  private watch: XsWatch | undefined;
  private queue: Promise<void> = Promise.resolve();
  private removed = false;

  constructor(
    readonly xs: XenStore,
    readonly kernel: DomainKernel,
    readonly domid: number,
    readonly devid: number,
    readonly nodename: string,
    private readonly hooks: DeviceHooks,
  ) {}

  /** xenbus_probe + xen_drv_probe: find the other end, go Initialising, watch its state. */
  async probe(): Promise<boolean> {
    const backend = await this.xs.tryRead(`${this.nodename}/backend`);
    const backendId = await this.xs.tryRead(`${this.nodename}/backend-id`);
    if (backend === undefined || backendId === undefined || !/^\d+$/.test(backendId)) return false;
    this.backendPath = backend;
    this.backendId = Number(backendId);
    await this.switchState(XenbusState.Initialising);
    crashPoint('initialising');
    this.watch = await this.xs.watch(`${backend}/state`, () => void this.serial(() => this.otherendChanged()));
    return true;
  }

  /** Runs watch work one item at a time. */
  serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn).catch((err: unknown) => {
      this.hooks.report({
        kind: 'error',
        message: `device ${this.devid}: ${err instanceof Error ? err.message : String(err)}`,
      });
    });
    this.queue = run;
    return run;
  }

  /** xenbus_read_driver_state: any failure (gone, or no longer readable) reads as Unknown. */
  private readOtherend(key: string): Promise<string | undefined> {
    return this.xs.tryRead(`${this.backendPath}/${key}`).catch(() => undefined);
  }

  private async otherendChanged(): Promise<void> {
    if (this.removed) return;
    const raw = await this.readOtherend('state');
    const parsed = raw === undefined ? undefined : scanInt(raw);
    this.backendState = parsed ? parsed.value : XenbusState.Unknown;
    this.reportState();
    await this.displbackChanged(this.backendState);
  }

  /** displback_changed */
  private async displbackChanged(be: number): Promise<void> {
    switch (be) {
      case XenbusState.Reconfiguring:
      case XenbusState.Reconfigured:
      case XenbusState.Initialised:
        return;
      case XenbusState.Initialising:
        if (this.state === XenbusState.Reconfiguring) return;
        await this.disconnect();
        return;
      case XenbusState.InitWait: {
        if (this.state === XenbusState.Reconfiguring) return;
        await this.disconnect();
        if (this.state !== XenbusState.Initialising) return;
        const ret = await this.initwait();
        if (ret < 0) await this.fatal(ret, 'initializing frontend');
        else {
          await this.switchState(XenbusState.Initialised);
          crashPoint('initialised');
        }
        return;
      }
      case XenbusState.Connected: {
        if (this.state !== XenbusState.Initialised) return;
        this.connect();
        await this.switchState(XenbusState.Connected);
        crashPoint('connected');
        return;
      }
      case XenbusState.Closing:
        return;
      case XenbusState.Unknown:
      case XenbusState.Closed:
      default:
        if (this.state === XenbusState.Closed) return;
        await this.disconnect();
    }
  }

  /** displback_initwait: cfg_card, evtchnl_create_all, evtchnl_publish_all. */
  private async initwait(): Promise<number> {
    this.beAlloc = Number((await this.xs.tryRead(`${this.nodename}/be-alloc`)) ?? '0') === 1;
    this.connectors = [];
    for (let i = 0; i < MAX_CONNECTORS; i++) {
      const path = `${this.nodename}/${i}`;
      const res = await this.xs.tryRead(`${path}/resolution`);
      if (res === undefined) break;
      const r = scanResolution(res);
      if (r.matched === 0) break;
      this.connectors.push({ width: r.width, height: r.height, path });
    }
    if (this.connectors.length === 0) return -ENODEV;
    const pairs: ConnectorPair[] = [];
    const made: SharedPage[] = [];
    const observer = this.observer();
    try {
      for (let i = 0; i < this.connectors.length; i++) {
        const req = await setupRing(this.kernel, this.backendId);
        made.push(req);
        const evt = await setupRing(this.kernel, this.backendId);
        made.push(evt);
        pairs.push({
          ctrl: new CtrlChannel(this.kernel, req, i, observer),
          evt: new EvtChannel(this.kernel, evt, i, observer, (e) => {
            if (e.type === EvtType.PG_FLIP) this.card?.onFrameDone(i);
          }),
        });
      }
    } catch {
      // As Linux's probe: out of pages, grants or ports is -ENOMEM, with what was made undone.
      for (const p of pairs) {
        p.ctrl.free();
        p.evt.free();
      }
      for (const m of made.slice(pairs.length * 2)) teardownRing(this.kernel, m);
      return -ENOMEM;
    }
    this.pairs = pairs;
    crashPoint('rings-allocated');
    try {
      await this.xs.transaction(async (t) => {
        for (let i = 0; i < pairs.length; i++) {
          const path = this.connectors[i]!.path;
          await t.write(`${path}/req-ring-ref`, String(pairs[i]!.ctrl.shared.ref));
          await t.write(`${path}/req-event-channel`, String(pairs[i]!.ctrl.shared.port));
          await t.write(`${path}/evt-ring-ref`, String(pairs[i]!.evt.shared.ref));
          await t.write(`${path}/evt-event-channel`, String(pairs[i]!.evt.shared.port));
        }
      });
    } catch {
      // The transaction failed (xenstored gone, or a conflict it gave up on): the probe's -EIO.
      return -EIO;
    }
    crashPoint('rings-published');
    return 0;
  }

  /** displback_connect + xen_drm_drv_init */
  private connect(): void {
    for (const p of this.pairs ?? []) {
      p.ctrl.connected = true;
      p.evt.connected = true;
    }
    const pairs = this.pairs!;
    this.card = new DrmCard({
      kernel: this.kernel,
      backend: this.backendId,
      beAlloc: this.beAlloc,
      connectors: this.connectors.map((c) => ({ width: c.width, height: c.height })),
      ctrl: (conn) => pairs[conn]!.ctrl,
    });
    this.hooks.report({
      kind: 'connected',
      devid: this.devid,
      beAlloc: this.beAlloc,
      connectors: this.connectors.map((c) => ({ width: c.width, height: c.height })),
    });
    this.hooks.cardUp(this, this.card);
  }

  /** displback_disconnect + xen_drm_drv_fini */
  private async disconnect(): Promise<void> {
    const card = this.card;
    if (!card) return;
    await this.switchState(XenbusState.Reconfiguring);
    this.card = undefined;
    card.unplug();
    const closed = this.hooks.cardDown(this, card);
    this.freeChannels();
    card.releaseAll();
    this.hooks.report({ kind: 'disconnected', devid: this.devid });
    // With be-alloc the driver waits for drm_driver.release (the last user closing the card).
    if (this.beAlloc) await closed;
    await this.switchState(XenbusState.Initialising);
  }

  private freeChannels(): void {
    for (const p of this.pairs ?? []) {
      p.ctrl.free();
      p.evt.free();
    }
    this.pairs = undefined;
  }

  /** xen_drv_remove: the driver goes away (module unload, or the toolstack removed the device). */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await this.queue;
    await this.switchState(XenbusState.Closing);
    for (let to = 100; to > 0; to--) {
      const s = await this.readOtherend('state');
      if (s !== undefined && Number(s) === XenbusState.InitWait) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const card = this.card;
    this.card = undefined;
    if (card) {
      card.unplug();
      const closed = this.hooks.cardDown(this, card);
      this.freeChannels();
      card.releaseAll();
      await closed;
    } else this.freeChannels();
    await this.switchState(XenbusState.Closed);
    await this.watch?.close();
    this.watch = undefined;
    this.hooks.report({ kind: 'removed', devid: this.devid });
  }

  /** Stops watching without touching XenStore (the process is going away). */
  async close(): Promise<void> {
    this.removed = true;
    await this.watch?.close().catch(() => undefined);
    this.watch = undefined;
    this.card?.unplug();
    this.freeChannels();
  }

  /** xenbus_switch_state: a transaction that writes only if our state node still exists. */
  async switchState(state: number): Promise<void> {
    if (state === this.state) return;
    try {
      await this.xs.transaction(async (t) => {
        if ((await t.tryRead(`${this.nodename}/state`)) === undefined) return;
        await t.write(`${this.nodename}/state`, String(state));
      });
    } catch (err) {
      this.hooks.report({
        kind: 'error',
        message: `device ${this.devid}: writing state ${state}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    this.state = state;
    this.reportState();
  }

  /** xenbus_dev_fatal: the error node, then Closing. */
  private async fatal(err: number, what: string): Promise<void> {
    const message = `${-err} ${what}`;
    this.hooks.report({ kind: 'fatal', devid: this.devid, errno: -err, message: what });
    const rel = this.nodename.replace(/^\/local\/domain\/\d+\//, '');
    await this.xs.write(`/local/domain/${this.domid}/error/${rel}/error`, message).catch(() => undefined);
    await this.switchState(XenbusState.Closing);
  }

  private reportState(): void {
    this.hooks.report({ kind: 'state', devid: this.devid, frontend: this.state, backend: this.backendState });
  }

  private observer(): ChannelObserver {
    const devid = this.devid;
    const hooks = this.hooks;
    return {
      request: (conn, op, id, status, ms) => {
        if (hooks.verbose) hooks.report({ kind: 'request', devid, conn, op, id, status, ms });
      },
      timeout: (conn, op, id) => hooks.report({ kind: 'timeout', devid, conn, op, id }),
      ignoredResponse: (conn, id, operation, why) =>
        hooks.report({ kind: 'ignored-response', devid, conn, id, operation, why }),
      eventDropped: (conn, expectedId, gotId) =>
        hooks.report({ kind: 'event-dropped', devid, conn, expectedId, gotId }),
      violation: (conn, reason) => hooks.report({ kind: 'ring-violation', devid, conn, reason }),
    };
  }
}
