// Interdomain event channels as Xen keeps them (xen/common/event_channel.c semantics), pure: no
// files or sockets here, what must happen outside goes through hooks. Every port has a doorbell (a
// FIFO, see paths.ts) that its owner polls. The pending bit is the doorbell's unread bytes: however
// many notifications arrive while the owner is busy, it sees them as one readable doorbell, as a
// port that is already pending absorbs further sends in Xen.
//
// Notifications take one of two paths. A process that knows its peer's doorbell rings it itself:
// no third party in between, as a hypercall raises the other vCPU's upcall directly. Until it knows
// (the peer's bind is told to it asynchronously, by `peerChanged`), or after its peer went, it sends
// EVTCHNOP_send through the hypervisor, which rings the peer's doorbell or drops the send on an
// unbound port. Only that second path is counted here.

import { XenErrno } from '../../displif/constants.js';

/** Errno values the event-channel hypercalls and /dev/xen/evtchn return (Xen's numbers). */
export const EVTCHN_EINVAL = XenErrno.EINVAL;
export const EVTCHN_ESRCH = XenErrno.ESRCH;
export const EVTCHN_ENOSPC = XenErrno.ENOSPC;
export const EVTCHN_ENOTCONN = XenErrno.ENOTCONN;
export const EVTCHN_ENOMEM = XenErrno.ENOMEM;

/** 2-level ABI on a 64-bit guest: 64 × 64 ports. */
export const MAX_PORTS_PER_DOMAIN = 4096;

export type PortBinding =
  | { readonly kind: 'unbound'; readonly remoteDomid: number }
  | { readonly kind: 'interdomain'; readonly remoteDomid: number; readonly remotePort: number };

/** The other end of an interdomain port, with its doorbell's generation. */
export interface PortPeer {
  readonly domid: number;
  readonly port: number;
  readonly gen: number;
}

export interface EventChannelHooks {
  /** A port exists: make its doorbell (before any ring of it). */
  opened(domid: number, port: number, gen: number): void;
  /** A port is gone: remove its doorbell. */
  closed(domid: number, port: number, gen: number): void;
  /** Set a port pending: one byte into its doorbell. */
  ring(domid: number, port: number, gen: number): void;
  /** Tell the connection `owner` that its `port` now has this peer, or none (unbound again). */
  peerChanged(owner: number, port: number, peer: PortPeer | undefined): void;
}

interface Port {
  binding: PortBinding;
  /** The connection (process) that allocated or bound the port and polls its doorbell. */
  readonly owner: number;
  readonly gen: number;
  notifications: number;
}

export interface PortStats {
  readonly binding: PortBinding;
  readonly owner: number;
  readonly gen: number;
  /** Sets of this port's pending bit by the hypervisor: sends through it, plus the one a bind makes. */
  readonly notifications: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errno: number };

const fail = (errno: number): { ok: false; errno: number } => ({ ok: false, errno });

export class EventChannels {
  private readonly domains = new Map<number, (Port | undefined)[]>();
  private nextGen = 1;

  constructor(private readonly hooks: EventChannelHooks) {}

  addDomain(domid: number): void {
    if (!this.domains.has(domid)) this.domains.set(domid, [undefined]); // port 0 is never valid
  }

  /** Closes every port of the domain (peers' ends fall back to unbound) and forgets it. */
  removeDomain(domid: number): void {
    const ports = this.domains.get(domid);
    if (!ports) return;
    for (let p = 1; p < ports.length; p++) if (ports[p]) this.closePort(domid, p);
    this.domains.delete(domid);
  }

  /** Closes every port a connection owns (the process closed /dev/xen/evtchn). */
  closeOwnedBy(owner: number): void {
    for (const [domid, ports] of this.domains) {
      for (let p = 1; p < ports.length; p++) if (ports[p]?.owner === owner) this.closePort(domid, p);
    }
  }

  allocUnbound(domid: number, owner: number, remoteDomid: number): Result<{ port: number; gen: number }> {
    if (!this.domains.has(remoteDomid)) return fail(EVTCHN_ESRCH);
    return this.allocate(domid, owner, { kind: 'unbound', remoteDomid });
  }

  bindInterdomain(
    domid: number,
    owner: number,
    remoteDomid: number,
    remotePort: number,
  ): Result<{ port: number; gen: number; remoteGen: number }> {
    const remote = this.domains.get(remoteDomid);
    if (!remote) return fail(EVTCHN_ESRCH);
    const rport = remote[remotePort];
    if (!Number.isInteger(remotePort) || remotePort <= 0 || !rport) return fail(EVTCHN_EINVAL);
    if (rport.binding.kind !== 'unbound' || rport.binding.remoteDomid !== domid) return fail(EVTCHN_EINVAL);
    const local = this.allocate(domid, owner, { kind: 'interdomain', remoteDomid, remotePort });
    if (!local.ok) return local;
    rport.binding = { kind: 'interdomain', remoteDomid: domid, remotePort: local.value.port };
    this.hooks.peerChanged(rport.owner, remotePort, { domid, port: local.value.port, gen: local.value.gen });
    // Xen sets the new local port pending unconditionally: notifications the peer sent to its
    // unbound port would otherwise be lost. The binder sees it once it polls its doorbell.
    const p = this.domains.get(domid)![local.value.port]!;
    p.notifications++;
    this.hooks.ring(domid, local.value.port, p.gen);
    return { ok: true, value: { ...local.value, remoteGen: rport.gen } };
  }

  close(domid: number, owner: number, port: number): Result<void> {
    const p = this.domains.get(domid)?.[port];
    if (!p) return fail(EVTCHN_EINVAL);
    if (p.owner !== owner) return fail(EVTCHN_ENOTCONN);
    this.closePort(domid, port);
    return { ok: true, value: undefined };
  }

  /** EVTCHNOP_send. Sending on an unbound port is silently dropped, as in Xen. */
  notify(domid: number, owner: number, port: number): Result<void> {
    const p = this.domains.get(domid)?.[port];
    if (!p) return fail(EVTCHN_EINVAL);
    if (p.owner !== owner) return fail(EVTCHN_ENOTCONN);
    if (p.binding.kind === 'interdomain') {
      const peer = this.domains.get(p.binding.remoteDomid)?.[p.binding.remotePort];
      if (peer) {
        peer.notifications++;
        this.hooks.ring(p.binding.remoteDomid, p.binding.remotePort, peer.gen);
      }
    }
    return { ok: true, value: undefined };
  }

  stats(domid: number, port: number): PortStats | undefined {
    const p = this.domains.get(domid)?.[port];
    return p && { ...p };
  }

  /** Ports in use by a domain (for leak checks). */
  portCount(domid: number): number {
    return (this.domains.get(domid) ?? []).filter((p) => p !== undefined).length;
  }

  private allocate(domid: number, owner: number, binding: PortBinding): Result<{ port: number; gen: number }> {
    const ports = this.domains.get(domid);
    if (!ports) return fail(EVTCHN_ESRCH);
    let port = ports.indexOf(undefined, 1);
    if (port < 0) {
      if (ports.length >= MAX_PORTS_PER_DOMAIN) return fail(EVTCHN_ENOSPC);
      port = ports.length;
      ports.push(undefined);
    }
    const gen = this.nextGen++;
    try {
      this.hooks.opened(domid, port, gen);
    } catch {
      return fail(EVTCHN_ENOMEM); // no doorbell (out of descriptors): as an allocation failure in Xen
    }
    ports[port] = { binding, owner, gen, notifications: 0 };
    return { ok: true, value: { port, gen } };
  }

  private closePort(domid: number, port: number): void {
    const ports = this.domains.get(domid)!;
    const p = ports[port]!;
    if (p.binding.kind === 'interdomain') {
      const peer = this.domains.get(p.binding.remoteDomid)?.[p.binding.remotePort];
      if (peer) {
        peer.binding = { kind: 'unbound', remoteDomid: domid };
        this.hooks.peerChanged(peer.owner, p.binding.remotePort, undefined);
      }
    }
    ports[port] = undefined;
    this.hooks.closed(domid, port, p.gen);
  }
}
