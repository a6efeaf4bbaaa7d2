// The simulated xenstored: the XenStore wire protocol (xen/io/xs_wire.h) on unix sockets, with
// Xen's permission model, watches, transactions and quotas, close enough to C xenstored that
// Debian's xenstore-utils and our client cannot tell it from the real one.
//
// Binding a connection to a domain: a real xenstored learns who is talking from the transport (a
// socket is dom0, a shared ring page is the domain that was introduced with it). The simulator has
// no ring pages, so it gives each introduced domain its own unix socket, `<socketPath>.dom<domid>`:
// every connection accepted there acts for that domain, unprivileged; connections on `socketPath`
// act for dom0, privileged. A domain is introduced either programmatically (`introduceDomain`,
// what the simulated host uses) or over the wire by dom0 with XS_INTRODUCE <domid>|<mfn>|<evtchn>
// as real toolstacks do (mfn and event channel are accepted and ignored); both fire
// @introduceDomain and open the domain's socket. `releaseDomain` or XS_RELEASE fire
// @releaseDomain, drop the domain's connections (their watches and transactions) and socket, and
// hand the nodes it owned to dom0.
//
// Semantics follow C xenstored 4.17 (Debian 12's): missing nodes answer ENOENT or, when the nearest
// existing ancestor denies the caller, EACCES; a domain owns what it creates; only an owner sets
// permissions and only dom0 changes owners (EPERM); watch events reach a connection only if it may
// read the changed node (for a removal: the removed node), special events only dom0 unless the
// special node's permissions say otherwise; transactions work on a snapshot and fail with EAGAIN
// when a node they read or wrote changed meanwhile; quotas (quotas.ts) answer ENOSPC or E2BIG.
// Known difference: a request that fails halfway inside a transaction (its node quota hit) may
// leave part of its effect in that transaction's copy; the live tree is never affected.
export { startXenstored, type SimXenstored, type XenstoredOptions } from './server.js';
export { XenstoredCore, CoreConnection, type ConnectionIo, type XenstoredStats } from './core.js';
export { DEFAULT_QUOTAS, type Quotas } from './quotas.js';
