// Where a simulated host keeps each domain's pieces. Domain ids are never reused within a host,
// so a path names one domain's lifetime.
import { join } from 'node:path';

/** The socket on which connections act for `domid` (the domain's /dev/xen/* and hypercalls). */
export const hvSocketPath = (dir: string, domid: number): string => join(dir, 'xen', `dom${domid}.sock`);
/** The domain's memory: frame N is bytes [N*4096, (N+1)*4096). */
export const ramPath = (dir: string, domid: number): string => join(dir, 'mem', `dom${domid}.ram`);
/** The domain's grant table: v1 entries, shared between the domain and the hypervisor. */
export const grantTablePath = (dir: string, domid: number): string => join(dir, 'mem', `dom${domid}.gnttab`);
/**
 * An event-channel port's doorbell: a FIFO its owner polls and its peer writes a byte into to notify
 * it, as a hypercall sets a pending bit and raises an upcall without a third party in between.
 * `gen` is never reused within a host, so a closed port's doorbell is never mistaken for a new one's.
 */
export const doorbellPath = (dir: string, domid: number, port: number, gen: number): string =>
  join(dir, 'xen', 'evtchn', `dom${domid}-port${port}-${gen}`);
