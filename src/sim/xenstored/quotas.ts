// Quotas of the simulated xenstored. The defaults and the errors are C xenstored's (Xen 4.17,
// the daemon Debian ships): exceeding a node or transaction quota is ENOSPC, the watch quota E2BIG.
// They bind unprivileged domains only, as in xenstored.

export interface Quotas {
  /** Nodes a domain may own (xenstored -E, default 1000). */
  readonly nodesPerDomain: number;
  /** Bytes of one node's value (xenstored -S, default 2048). */
  readonly maxValueSize: number;
  /** Watches one connection may hold (xenstored -W, default 128). */
  readonly watchesPerConnection: number;
  /** Transactions one connection may have open (xenstored -t, default 10). */
  readonly transactionsPerConnection: number;
  /** Distinct nodes one transaction may touch (xenstored -n, default 1024). */
  readonly nodesPerTransaction: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  nodesPerDomain: 1000,
  maxValueSize: 2048,
  watchesPerConnection: 128,
  transactionsPerConnection: 10,
  nodesPerTransaction: 1024,
};
