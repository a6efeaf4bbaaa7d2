// All event channels of the process on one /dev/xen/evtchn descriptor, woken by one poller: the
// kernel queues the ports that fired and masks each until we write it back. Per wake-up, each
// pending port's handler runs once (notifications coalesce, as Xen's do), after its port is
// unmasked, so a notification arriving while the handler runs wakes us again.
import type { NativeEvtchn } from '../../native/xen-devices.js';
import type { NativeFdPoller } from '../../native/fd.js';
import { POLL_READABLE } from '../../native/fd.js';
import type { DomId, EvtchnPort } from '../../util/ids.js';
import { evtchnPort } from '../../util/ids.js';
import type { EventChannel } from '../platform.js';

/** Reads per wake-up at most; the poller fires again for what is left. */
const MAX_READS_PER_WAKE = 8;
/**
 * Ports one readPending() returns at most (native/src/evtchn.cc reads into a buffer this big). A
 * shorter answer means the kernel's queue is empty: no second read just to hear EAGAIN. Every
 * syscall counts in a PV dom0 (each one bounces through Xen): on real Xen under emulation this
 * loop's reads, unmasks and notifies were the daemon's largest self time while flipping.
 */
export const PORTS_PER_READ = 1024;

export type PollerFactory = (fd: number, onReady: (status: number, events: number) => void) => NativeFdPoller;

export class EventChannelHub {
  private readonly handlers = new Map<number, () => void>();
  private readonly poller: NativeFdPoller;
  private closed = false;

  constructor(
    private readonly dev: NativeEvtchn,
    makePoller: PollerFactory,
    private readonly onError: (err: unknown) => void,
  ) {
    this.poller = makePoller(dev.fd, (status) => {
      if (status < 0) this.onError(new Error(`/dev/xen/evtchn: poll failed (errno ${-status})`));
      else this.dispatch();
    });
    // A hub with no bindings must not keep the daemon's loop alive on its own.
    this.poller.unref();
    this.poller.start(POLL_READABLE);
  }

  get size(): number {
    return this.handlers.size;
  }

  bind(remoteDomid: DomId, remotePort: EvtchnPort, onEvent: () => void): EventChannel {
    if (this.closed) throw new Error('event channels closed');
    const local = this.dev.bindInterdomain(remoteDomid, remotePort);
    this.handlers.set(local, onEvent);
    if (this.handlers.size === 1) this.poller.ref();
    let open = true;
    return {
      remoteDomid,
      remotePort,
      localPort: evtchnPort(local),
      notify: () => {
        if (open) this.dev.notify(local);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.handlers.delete(local);
        if (this.handlers.size === 0 && !this.closed) this.poller.unref();
        if (!this.closed) this.dev.unbind(local);
      },
    };
  }

  /** Reads what fired, unmasks it, then runs each handler once. Exposed for tests. */
  dispatch(): void {
    if (this.closed) return;
    const fired = new Set<number>();
    for (let i = 0; i < MAX_READS_PER_WAKE; i++) {
      const ports = this.dev.readPending();
      if (ports === null) {
        // The kernel's queue overflowed and was reset: any bound port may have fired.
        for (const p of this.handlers.keys()) fired.add(p);
        continue;
      }
      for (const p of ports) fired.add(p);
      if (ports.length < PORTS_PER_READ) break;
    }
    if (fired.size === 0) return;
    // Only ports still bound: writing back a port we no longer own is meaningless.
    const mine = [...fired].filter((p) => this.handlers.has(p));
    if (mine.length > 0) this.dev.unmask(Uint32Array.from(mine));
    let firstError: unknown;
    for (const p of mine) {
      const h = this.handlers.get(p);
      if (h === undefined) continue; // closed by an earlier handler in this batch
      try {
        h();
      } catch (err) {
        firstError ??= err;
      }
    }
    // One guest's failing handler must not starve the others; the bug still surfaces.
    if (firstError !== undefined) this.onError(firstError);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    this.poller.close();
    this.dev.close();
  }
}
