// One connector's transport: its control ring, its event page and their two event channels. It
// serves requests in ring order, a bounded number per event-loop turn, answering the synchronous
// ones on the spot (PG_FLIP among them: no promise, no log line, no timer per request) and pausing
// the ring while an asynchronous one (mapping, modeset) runs, under a deadline well inside the
// frontend's 3000 ms. Flip completions become EVT_PG_FLIP events, each within the flip deadline
// whether or not the output ever reports the flip.
import type { BackRing } from '../displif/back-ring.js';
import { XEN_EAGAIN, XEN_EBUSY, XEN_EIO, XEN_ETIMEDOUT } from '../displif/constants.js';
import type { EventProducer } from '../displif/event-page.js';
import { CookieCache } from '../displif/cookie-cache.js';
import { bufferPageCount, decodeRequest, type DecodeOptions, type Request } from '../displif/requests.js';
import type { FlipResult } from '../drm/output.js';
import { emitter } from '../util/events.js';
import type { Cookie } from '../util/ids.js';
import type { Logger } from '../util/log.js';
import type { EventChannel } from '../xen/platform.js';
import type { Framebuffer } from './buffer-registry.js';
import type { ConnectorState, DeviceContext, FlipQueue, OpResult } from './ops/context.js';
import type { PageRate } from './quotas.js';
import { dbufCreate } from './ops/dbuf-create.js';
import { dbufDestroy, fbAttach, fbDetach } from './ops/framebuffers.js';
import { getEdid } from './ops/get-edid.js';
import { pgFlip, setConfig } from './ops/scanout.js';

/** Requests served per ring per event-loop turn before yielding to other guests (docs/PROTOCOL-NOTES.md, "What the backend checks" 11). */
export const REQUEST_BUDGET = 32;
/**
 * And the time one ring may hold the event loop per turn: a guest whose requests are each costly
 * (large buffers to destroy, outputs slow to take a flip) yields after this much, whatever is
 * left of its budget, so one turn of one ring costs other guests at most this plus one request.
 * Half a 60 Hz frame: a full ring of ordinary requests (~1 ms) stays well inside it even when
 * the process is descheduled for a few milliseconds, so only costly rings ever reach it.
 */
export const SERVICE_SLICE_MS = 8;
/** An asynchronous request not finished by then is answered -ETIMEDOUT (the frontend gives up at 3000). */
export const ASYNC_DEADLINE_MS = 2000;
/** A flip the output has not reported by then gets its event anyway, counted as dropped. */
export const FLIP_EVENT_DEADLINE_MS = 1000;

export interface ChannelStats {
  requests: number;
  /** Requests answered with a non-zero status, by operation code. */
  errors: number;
  timeouts: number;
  flipsQueued: number;
  flipsShown: number;
  flipsDropped: number;
  /** Flip events that waited behind a full event page or were lost to its queue limit. */
  eventsQueued: number;
  eventsDropped: number;
  /** Sum and count of queue→event latency in microseconds, and the last one. */
  flipLatencyUsSum: number;
  flipLatencyUsLast: number;
}

interface PendingFlip {
  readonly cookie: Cookie;
  /** performance.now() when queued: a number, where a bigint timestamp cost an allocation per flip. */
  readonly queuedMs: number;
  settled: boolean;
}

export interface ChannelEvents {
  /** The frontend broke the ring protocol: the connection must be closed. Emitted at most once. */
  violation: [reason: string];
}

/** What the channel is given to work with (not events: those are `events`). */
export interface ChannelHooks {
  /** Metrics: told of every answer and every flip event (optional; must be cheap). */
  readonly observer?: ChannelObserver;
  /** The device's buffer-page rate, shared by its connectors (none: unlimited). */
  readonly pageRate?: PageRate;
  /** Monotonic milliseconds for the page rate and the service slice (default performance.now; tests pass their own). */
  readonly now?: () => number;
  /** Where a handler's unexpected throw is logged (the device's logger; none: not logged). */
  readonly log?: Logger;
}

/** What the operations side counts on the request path (src/ops/metrics implements it). */
export interface ChannelObserver {
  /** A request was answered with `status` (0 or a negative Xen errno). */
  request(op: number, status: number): void;
  /** A flip's EVT_PG_FLIP went out `latencyNs` after its PG_FLIP was queued. */
  flipDone(latencyNs: number, shown: boolean): void;
}

/** Counters of a channel that has served nothing yet. */
export function emptyChannelStats(): ChannelStats {
  return {
    requests: 0,
    errors: 0,
    timeouts: 0,
    flipsQueued: 0,
    flipsShown: 0,
    flipsDropped: 0,
    eventsQueued: 0,
    eventsDropped: 0,
    flipLatencyUsSum: 0,
    flipLatencyUsLast: 0,
  };
}

export class ConnectorChannel implements FlipQueue {
  readonly stats: ChannelStats = emptyChannelStats();
  readonly events = emitter<ChannelEvents>();
  private reqChannel: EventChannel | undefined;
  private evtChannel: EventChannel | undefined;
  /** An asynchronous request is running: the ring waits. */
  private busy = false;
  /** Asynchronous requests still running, including ones already answered -ETIMEDOUT. */
  private readonly inflight = new Set<Promise<void>>();
  /** The SET_CONFIG the output still works on, answered or not (one at a time per connector). */
  private modeset: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  private flips: PendingFlip[] = [];
  private pendingFlips = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly serviceNow = (): void => {
    this.scheduled = false;
    this.service();
  };
  private readonly onSlot = (copy: Uint8Array): boolean => {
    this.handle(copy);
    return !this.busy && !this.closed && this.now() < this.sliceEnd;
  };
  private sliceEnd = 0;
  /** In service(): answers are written at once and published when it ends. */
  private inService = false;
  /** Answers written and not yet published. */
  private unpushed = false;
  private readonly decodeOptions: DecodeOptions;

  constructor(
    private readonly ctx: DeviceContext,
    readonly conn: ConnectorState,
    private readonly ring: BackRing,
    private readonly eventPage: EventProducer,
    private readonly hooks: ChannelHooks,
  ) {
    this.decodeOptions = { version: ctx.version, connector: conn.index, cookies: new CookieCache() };
  }

  /** Hands over the bound channels; from here on a notification serves the ring. */
  attach(reqChannel: EventChannel, evtChannel: EventChannel): void {
    this.reqChannel = reqChannel;
    this.evtChannel = evtChannel;
    this.kick();
  }

  /** The frontend notified (or we may have work): serve the ring on this turn. */
  kick(): void {
    this.service();
  }

  get pending(): number {
    return this.pendingFlips;
  }

  /**
   * Settles when the output has finished the SET_CONFIG it was given (and undone it, if it came
   * too late); undefined when none is running. The connection gives the output back only then.
   */
  get modesetRunning(): Promise<void> | undefined {
    return this.modeset;
  }

  queue(fb: Framebuffer): void {
    const entry: PendingFlip = { cookie: fb.cookie, queuedMs: performance.now(), settled: false };
    this.flips.push(entry);
    this.pendingFlips++;
    this.stats.flipsQueued++;
    try {
      this.conn.output.flip(fb.desc, (r: FlipResult) => this.flipDone(entry, r.shown));
    } catch {
      // An output reports a failed flip through `done`; one that throws instead must still cost
      // the frontend only this frame: the flip counts as dropped and its event follows the response.
      setImmediate(() => this.flipDone(entry, false));
    }
    if (!this.watchdog) this.watchdog = setTimeout(() => this.checkFlips(), FLIP_EVENT_DEADLINE_MS);
  }

  /**
   * Stops serving: no request is read, no response or event written after this. Waits for
   * asynchronous requests in progress, but no longer than their deadline: one stuck in a hung
   * output must not hold the tear-down, and each undoes its own effect when it finds the
   * connection gone. The event channels and ring mappings belong to the connection.
   */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
    }
    this.flips = [];
    this.pendingFlips = 0;
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, ASYNC_DEADLINE_MS)));
    await Promise.race([Promise.all([...this.inflight]), limit]);
    clearTimeout(timer);
  }

  private now(): number {
    return this.hooks.now ? this.hooks.now() : performance.now();
  }

  private service(): void {
    if (this.busy || this.closed) return;
    this.sliceEnd = this.now() + SERVICE_SLICE_MS;
    this.inService = true;
    try {
      // The ring hands requests on one at a time; onSlot stops it when a handler goes asynchronous,
      // the channel closes or the slice is spent.
      const out = this.ring.consume(REQUEST_BUDGET, this.onSlot);
      if (out.kind === 'violation') {
        if (this.unpushed) this.pushResponses(); // the answers written before it still reach the frontend
        this.closed = true;
        this.events.emit('violation', out.reason);
        return;
      }
      if (out.more && !this.busy && !this.closed && !this.scheduled) {
        // Budget or slice spent with requests left: let other rings and guests run first.
        this.scheduled = true;
        setImmediate(this.serviceNow);
      }
    } finally {
      this.inService = false;
      // The answers of this turn, published together: one step, at most one notification.
      if (this.unpushed && !this.closed) this.pushResponses();
    }
  }

  private handle(copy: Uint8Array): void {
    this.stats.requests++;
    const d = decodeRequest(copy, this.decodeOptions);
    if (!d.ok) {
      this.respond(d.id, d.operation, d.errno);
      return;
    }
    let r: number | Promise<OpResult>;
    // Aborted when the deadline answers the request: a modeset finished after that is undone.
    const late = d.req.kind === 'set-config' ? new AbortController() : undefined;
    try {
      r = this.dispatch(d.req, late?.signal);
    } catch (err) {
      // A handler or an output threw (a bug): the guest still gets an answer and the ring goes on.
      this.hooks.log?.error({ err, op: d.operation }, 'request handler threw; answered -EIO');
      r = -XEN_EIO;
    }
    if (typeof r === 'number') {
      this.respond(d.id, d.operation, r);
      return;
    }
    this.busy = true;
    const done = this.await(d.id, d.operation, d.req, r, late).finally(() => {
      this.inflight.delete(done);
      if (this.modeset === done) this.modeset = undefined;
    });
    this.inflight.add(done);
    if (late) this.modeset = done;
  }

  /** Synchronous handlers return the status; asynchronous ones a promise of the result. */
  private dispatch(req: Request, late: AbortSignal | undefined): number | Promise<OpResult> {
    const ctx = this.ctx;
    switch (req.kind) {
      case 'pg-flip':
        return pgFlip(ctx, this.conn, req, this);
      case 'fb-attach':
        return fbAttach(ctx, req);
      case 'fb-detach':
        return fbDetach(ctx, req);
      case 'dbuf-destroy':
        return dbufDestroy(ctx, req);
      case 'dbuf-create':
        if (!this.withinPageRate(req.bufferSz)) return -XEN_EAGAIN;
        return dbufCreate(ctx, req);
      case 'set-config':
        // One answered -ETIMEDOUT is still at the output: a second would race its undo.
        if (this.modeset) return -XEN_EBUSY;
        return setConfig(ctx, this.conn, req, late).then((status) => ({ status }));
      case 'get-edid':
        // The walk reads a directory of up to buffer_sz / 4096 refs: charged like a creation's.
        if (!this.withinPageRate(req.bufferSz, true)) return -XEN_EAGAIN;
        return getEdid(ctx, this.conn, req);
    }
  }

  /**
   * Charges a DBUF_CREATE (or the directory walk of a GET_EDID) to the device's page rate before
   * any work, so a refused one costs nothing heavy. A buffer over the per-buffer limit is not
   * charged: it is refused -E2BIG. A GET_EDID has no such limit, so it is always charged.
   */
  private withinPageRate(bufferSz: number, always = false): boolean {
    const rate = this.hooks.pageRate;
    if (!rate) return true;
    const pages = bufferPageCount(bufferSz);
    if (!always && pages > this.ctx.registry.quotas.maxBufferPages) return true;
    return rate.take(pages, this.now());
  }

  private async await(
    id: number,
    operation: number,
    req: Request,
    p: Promise<OpResult>,
    late: AbortController | undefined,
  ): Promise<void> {
    let timedOut = false;
    const started = this.now();
    const timer = setTimeout(() => {
      timedOut = true;
      late?.abort();
      this.stats.timeouts++;
      // The guest only sees -ETIMEDOUT: the operator needs the line that says which request hung
      // (a wedged display driver, a stalled grant map), and the next one whether it ever finished.
      this.hooks.log?.warn(
        { op: operation, connector: this.conn.index, errno: XEN_ETIMEDOUT, deadlineMs: ASYNC_DEADLINE_MS },
        `${req.kind} on connector ${this.conn.uniqueId} not finished within ${ASYNC_DEADLINE_MS} ms: answered -ETIMEDOUT`,
      );
      this.respond(id, operation, -XEN_ETIMEDOUT);
      this.busy = false;
      this.service();
    }, ASYNC_DEADLINE_MS);
    let result: OpResult;
    try {
      result = await p;
    } catch (err) {
      // Handlers turn failures into statuses; this is a bug, and the guest still gets an answer.
      this.hooks.log?.error({ err, op: operation }, 'request handler rejected; answered -EIO');
      result = { status: -XEN_EIO };
    }
    clearTimeout(timer);
    if (timedOut) {
      // The frontend was told it failed: a buffer made late must not outlive that answer (a late
      // modeset undoes itself, see ops/scanout.ts).
      const undo = req.kind === 'dbuf-create' && result.status === 0;
      if (undo) dbufDestroy(this.ctx, { kind: 'dbuf-destroy', dbufCookie: req.dbufCookie });
      // A late modeset undoes itself and says so with -ETIMEDOUT (ops/scanout.ts).
      const undone = undo || (req.kind === 'set-config' && result.status === -XEN_ETIMEDOUT);
      const ms = Math.round(this.now() - started);
      this.hooks.log?.info(
        { op: operation, connector: this.conn.index, ms, status: result.status },
        `${req.kind} answered -ETIMEDOUT finished after ${ms} ms: ${undone ? 'undone' : `failed (status ${result.status})`}`,
      );
      return;
    }
    this.respond(id, operation, result.status, result.edidSz);
    this.busy = false;
    this.service();
  }

  private respond(id: number, operation: number, status: number, edidSz?: number): void {
    if (this.closed) return;
    if (status !== 0) this.stats.errors++;
    this.hooks.observer?.request(operation, status);
    this.ring.writeResponse(id, operation, status, edidSz);
    this.unpushed = true;
    if (!this.inService) this.pushResponses();
  }

  private pushResponses(): void {
    this.unpushed = false;
    if (this.ring.pushResponses()) this.reqChannel?.notify();
  }

  private flipDone(entry: PendingFlip, shown: boolean): void {
    if (entry.settled || this.closed) return;
    entry.settled = true;
    this.pendingFlips--;
    if (shown) this.stats.flipsShown++;
    else this.stats.flipsDropped++;
    const ns = Math.round((performance.now() - entry.queuedMs) * 1e6);
    const us = Math.floor(ns / 1000);
    this.hooks.observer?.flipDone(ns, shown);
    this.stats.flipLatencyUsSum += us;
    this.stats.flipLatencyUsLast = us;
    this.sendEvent(entry.cookie);
    // Trim settled entries from the head so the list stays as short as the flips in flight.
    while (this.flips.length > 0 && this.flips[0]!.settled) this.flips.shift();
  }

  private sendEvent(cookie: Cookie): void {
    const out = this.eventPage.pgFlip(cookie);
    if (out.queued) this.stats.eventsQueued++;
    if (out.dropped) this.stats.eventsDropped++;
    if (out.notify) this.evtChannel?.notify();
  }

  /** The flip watchdog: answers flips the output sat on for too long, then re-arms while any wait. */
  private checkFlips(): void {
    this.watchdog = undefined;
    if (this.closed) return;
    const deadline = performance.now() - FLIP_EVENT_DEADLINE_MS;
    for (const f of this.flips) if (!f.settled && f.queuedMs <= deadline) this.flipDone(f, false);
    // Events that waited for room on the page go out now if the frontend made some.
    if (this.eventPage.backlog > 0) {
      const out = this.eventPage.flush();
      if (out.notify) this.evtChannel?.notify();
    }
    if (this.pendingFlips > 0 || this.eventPage.backlog > 0)
      this.watchdog = setTimeout(() => this.checkFlips(), FLIP_EVENT_DEADLINE_MS / 4);
  }
}
