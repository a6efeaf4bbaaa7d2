// Xen's permission model, as xenstored decides it for one connection. Pure.
import type { XsPerm } from '../../xenstore/types.js';

/** Who a connection acts for. */
export interface Caller {
  readonly domid: number;
  /** dom0 (and anything the daemon treats as the toolstack): every check passes, no quota applies. */
  readonly privileged: boolean;
  /** SET_TARGET: a device-model domain that acts with its target domain's rights too. */
  readonly target?: number | undefined;
}

export interface Access {
  readonly read: boolean;
  readonly write: boolean;
  readonly owner: boolean;
}

const ALL: Access = { read: true, write: true, owner: true };

const matches = (caller: Caller, domid: number): boolean =>
  domid === caller.domid || (caller.target !== undefined && domid === caller.target);

/**
 * The rights `caller` has on a node with `perms`: the privileged and the owner get everything;
 * otherwise the first later entry naming the caller decides, else the owner entry's access does.
 */
export function accessFor(caller: Caller, perms: readonly XsPerm[]): Access {
  const owner = perms[0];
  if (caller.privileged || owner === undefined || matches(caller, owner.domid)) return ALL;
  const entry = perms.slice(1).find((p) => matches(caller, p.domid)) ?? owner;
  return {
    read: entry.access === 'r' || entry.access === 'b',
    write: entry.access === 'w' || entry.access === 'b',
    owner: false,
  };
}
