// A process's event-channel doorbells (see paths.ts and event-channels.ts): its own ports' FIFOs,
// which it polls, and its peers', which it rings to notify them directly. This is the simulator's
// /dev/xen/evtchn: a readable doorbell is a pending port, draining it is taking the event, and a
// handler that runs after the drain sees everything sent before it; whatever comes in meanwhile
// makes the doorbell readable again, so it costs at most one more event (Xen's coalescing).
//
// The ports listened to form one set (native doorbell_set.cc), polled as one descriptor: one wake
// and one call take every port that became pending together, as one read of /dev/xen/evtchn does.
// Descriptors and the poller go through the addon, so they show in nativeResources() like the
// real platform's evtchn descriptor and poller do, and a leak fails the same checks.
import { native } from '../../native/addon.js';
import { POLL_READABLE, type NativeFdPoller } from '../../native/fd.js';
import { doorbellPath } from './paths.js';

/** Ports taken per call; more ready ports are taken by the next call of the same wake. */
const TAKE_PORTS = 256;

/** One byte into a doorbell: a full pipe is a port already pending, nothing more to do. */
export function ringDoorbell(fd: number): void {
  native().doorbellRing(fd);
}

/** Everything about one of this process's ports: a record per port, found by index, not by hash. */
interface PortBell {
  readonly fd: number;
  listener: (() => void) | undefined;
  /** The peer's doorbell, or -1: sends go through the hypervisor. */
  peerFd: number;
  /** Waiting in this turn's ring queue. */
  queued: boolean;
}

export class Doorbells {
  /** Indexed by port (below the hypervisor's 4096 per domain). */
  private readonly ports: (PortBell | undefined)[] = [];
  private queue: PortBell[] = [];
  /** The other queue: the two take turns, so a flush allocates nothing. */
  private spare: PortBell[] = [];
  private flushScheduled = false;
  private set: { readonly fd: number; readonly poller: NativeFdPoller } | undefined;
  private readonly taken = new Uint32Array(TAKE_PORTS);
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly domid: number,
  ) {}

  /** Opens the doorbell of a port this process just allocated or bound (before listening to it). */
  adopt(port: number, gen: number): void {
    if (this.closed) return;
    this.forget(port);
    const fd = native().openDevice(doorbellPath(this.dir, this.domid, port, gen), true, true);
    this.ports[port] = { fd, listener: undefined, peerFd: -1, queued: false };
  }

  /**
   * The port's peer is now `peerDomid`'s `peerPort` (or none, with gen 0). A doorbell that is gone
   * already (the peer closed it meanwhile) leaves the port without one: sends then go through the
   * hypervisor, which drops them on an unbound port, as Xen does.
   */
  setPeer(port: number, peerDomid: number, peerPort: number, peerGen: number): void {
    const bell = this.ports[port];
    if (!bell) return;
    if (bell.peerFd >= 0) {
      native().closeDevice(bell.peerFd);
      bell.peerFd = -1;
    }
    if (this.closed || peerGen === 0) return;
    try {
      bell.peerFd = native().openDevice(doorbellPath(this.dir, peerDomid, peerPort, peerGen), true, true);
    } catch {
      // gone already: the hypervisor path stands in
    }
  }

  /** Whether this process rings the port's peer itself; false: send through the hypervisor. */
  ring(port: number): boolean {
    const bell = this.ports[port];
    if (!bell || bell.peerFd < 0) return false;
    // Sends of one event-loop turn leave together, one byte per peer: the rest would coalesce anyway.
    if (!bell.queued) {
      bell.queued = true;
      this.queue.push(bell);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
    return true;
  }

  /**
   * Calls `fn` once per readable doorbell, after draining it. At most one listener per port; a
   * throwing `fn` is the caller's bug and is rethrown outside the poll callback.
   */
  listen(port: number, fn: () => void): void {
    const bell = this.ports[port];
    if (!bell) throw new Error(`no doorbell for port ${port}`);
    const set = this.set ?? this.openSet();
    if (!bell.listener) native().doorbellSetAdd(set.fd, bell.fd, port);
    bell.listener = fn;
  }

  unlisten(port: number): void {
    const bell = this.ports[port];
    if (!bell?.listener) return;
    bell.listener = undefined;
    if (this.set) native().doorbellSetRemove(this.set.fd, bell.fd);
  }

  /** Drops everything of a port (closed). Idempotent. */
  forget(port: number): void {
    const bell = this.ports[port];
    if (!bell) return;
    this.unlisten(port);
    this.ports[port] = undefined;
    native().closeDevice(bell.fd);
    if (bell.peerFd >= 0) native().closeDevice(bell.peerFd);
    bell.peerFd = -1; // a queued ring of it is skipped
  }

  /** Rings what is queued now (before the process lets go of its ports). */
  readonly flush = (): void => {
    this.flushScheduled = false;
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = this.spare;
    for (let i = 0; i < q.length; i++) {
      const bell = q[i]!;
      bell.queued = false;
      if (bell.peerFd >= 0) ringDoorbell(bell.peerFd);
    }
    // pop(), not length = 0: V8 keeps the storage for the next turn.
    while (q.length) q.pop();
    this.spare = q;
  };

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (let port = 0; port < this.ports.length; port++) this.forget(port);
    if (this.set) {
      this.set.poller.close();
      native().closeDevice(this.set.fd);
      this.set = undefined;
    }
  }

  private openSet(): { readonly fd: number; readonly poller: NativeFdPoller } {
    const n = native();
    const fd = n.doorbellSetCreate();
    const poller = new n.FdPoller(fd, (status) => {
      if (status >= 0) this.take();
    });
    // The hypervisor connection is what keeps a domain's process alive, as before doorbells.
    poller.unref();
    poller.start(POLL_READABLE);
    return (this.set = { fd, poller });
  }

  private take(): void {
    const set = this.set;
    if (!set) return;
    let got: number;
    let firstError: unknown;
    do {
      got = native().doorbellSetTake(set.fd, this.taken);
      for (let i = 0; i < got; i++) {
        // Looked up at call time: a handler may close another port of this batch.
        const fn = this.ports[this.taken[i]!]?.listener;
        if (!fn) continue;
        try {
          fn();
        } catch (err) {
          firstError ??= err;
        }
      }
    } while (got === TAKE_PORTS && this.set === set);
    // A throwing handler is the caller's bug: surfaced as an uncaught exception, but after every
    // port of the batch was served.
    if (firstError !== undefined) {
      process.nextTick(() => {
        throw firstError;
      });
    }
  }
}
