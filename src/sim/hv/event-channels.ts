// Interdomain event channels as Xen keeps them (xen/common/event_channel.c semantics), pure:
// no sockets here, delivery goes through a callback. Each port has one pending bit and a mask;
// a notification on a pending port is absorbed (Xen's coalescing), and a delivered port stays
// masked until its owner re-enables it — the way Linux's /dev/xen/evtchn masks a port when it
// queues it for reading and unmasks it when the process writes the port back. So however many
// notifications arrive while the owner is busy, it sees one event, plus at most one more after
// it re-enables the port.

/** Errno values the event-channel hypercalls and /dev/xen/evtchn return. */
export const EVTCHN_EINVAL = 22;
export const EVTCHN_ESRCH = 3;
export const EVTCHN_ENOSPC = 28;
export const EVTCHN_ENOTCONN = 107;

/** 2-level ABI on a 64-bit guest: 64 × 64 ports. */
export const MAX_PORTS_PER_DOMAIN = 4096;

export type PortBinding =
  | { readonly kind: 'unbound'; readonly remoteDomid: number }
  | { readonly kind: 'interdomain'; readonly remoteDomid: number; readonly remotePort: number };

interface Port {
  binding: PortBinding;
  /** The connection (process) that allocated or bound the port and receives its events. */
  readonly owner: number;
  pending: boolean;
  masked: boolean;
  notifications: number;
  deliveries: number;
}

export interface PortStats {
  readonly binding: PortBinding;
  readonly owner: number;
  readonly pending: boolean;
  readonly masked: boolean;
  /** Notifications that reached this port (sent by its peer, plus the one a bind sets). */
  readonly notifications: number;
  /** Events actually delivered to the owner: notifications minus what coalescing absorbed. */
  readonly deliveries: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errno: number };

const fail = (errno: number): { ok: false; errno: number } => ({ ok: false, errno });

export class EventChannels {
  private readonly domains = new Map<number, (Port | undefined)[]>();

  /** `deliver(owner, domid, port)` hands one event to the owning connection. */
  constructor(private readonly deliver: (owner: number, domid: number, port: number) => void) {}

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

  allocUnbound(domid: number, owner: number, remoteDomid: number): Result<number> {
    if (!this.domains.has(remoteDomid)) return fail(EVTCHN_ESRCH);
    return this.allocate(domid, owner, { kind: 'unbound', remoteDomid });
  }

  bindInterdomain(domid: number, owner: number, remoteDomid: number, remotePort: number): Result<number> {
    const remote = this.domains.get(remoteDomid);
    if (!remote) return fail(EVTCHN_ESRCH);
    const rport = remote[remotePort];
    if (!Number.isInteger(remotePort) || remotePort <= 0 || !rport) return fail(EVTCHN_EINVAL);
    if (rport.binding.kind !== 'unbound' || rport.binding.remoteDomid !== domid) return fail(EVTCHN_EINVAL);
    const local = this.allocate(domid, owner, { kind: 'interdomain', remoteDomid, remotePort });
    if (!local.ok) return local;
    rport.binding = { kind: 'interdomain', remoteDomid: domid, remotePort: local.value };
    // Xen sets the new local port pending unconditionally: notifications the peer sent to its
    // unbound port would otherwise be lost. Delivery waits for kick(), so the caller can answer
    // the bind before the event reaches the binder.
    const p = this.domains.get(domid)![local.value]!;
    p.notifications++;
    p.pending = true;
    return local;
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
    if (p.binding.kind === 'interdomain') this.setPending(p.binding.remoteDomid, p.binding.remotePort);
    return { ok: true, value: undefined };
  }

  /** Delivers a pending, unmasked port (after bindInterdomain). */
  kick(domid: number, port: number): void {
    const p = this.domains.get(domid)?.[port];
    if (p && p.pending && !p.masked) this.tryDeliver(domid, port, p);
  }

  unmask(domid: number, owner: number, port: number): void {
    const p = this.domains.get(domid)?.[port];
    if (!p || p.owner !== owner) return;
    p.masked = false;
    if (p.pending) this.tryDeliver(domid, port, p);
  }

  stats(domid: number, port: number): PortStats | undefined {
    const p = this.domains.get(domid)?.[port];
    return p && { ...p };
  }

  /** Ports in use by a domain (for leak checks). */
  portCount(domid: number): number {
    return (this.domains.get(domid) ?? []).filter((p) => p !== undefined).length;
  }

  private allocate(domid: number, owner: number, binding: PortBinding): Result<number> {
    const ports = this.domains.get(domid);
    if (!ports) return fail(EVTCHN_ESRCH);
    let port = ports.indexOf(undefined, 1);
    if (port < 0) {
      if (ports.length >= MAX_PORTS_PER_DOMAIN) return fail(EVTCHN_ENOSPC);
      port = ports.length;
      ports.push(undefined);
    }
    ports[port] = { binding, owner, pending: false, masked: false, notifications: 0, deliveries: 0 };
    return { ok: true, value: port };
  }

  private closePort(domid: number, port: number): void {
    const ports = this.domains.get(domid)!;
    const p = ports[port]!;
    if (p.binding.kind === 'interdomain') {
      const peer = this.domains.get(p.binding.remoteDomid)?.[p.binding.remotePort];
      if (peer) peer.binding = { kind: 'unbound', remoteDomid: domid };
    }
    ports[port] = undefined;
  }

  private setPending(domid: number, port: number): void {
    const p = this.domains.get(domid)?.[port];
    if (!p) return;
    p.notifications++;
    if (p.pending) return; // coalesced: one pending bit per port
    p.pending = true;
    if (!p.masked) this.tryDeliver(domid, port, p);
  }

  private tryDeliver(domid: number, port: number, p: Port): void {
    p.pending = false;
    p.masked = true;
    p.deliveries++;
    this.deliver(p.owner, domid, port);
  }
}
