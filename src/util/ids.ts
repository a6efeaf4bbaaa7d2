// Branded numeric ids: a grant ref is not a port is not a domain id, and the compiler says so.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type DomId = Brand<number, 'DomId'>;
export type GrantRef = Brand<number, 'GrantRef'>;
export type EvtchnPort = Brand<number, 'EvtchnPort'>;
/** A device index under backend/vdispl/<domid>/<devid>. */
export type DevId = Brand<number, 'DevId'>;
/** A displif cookie (u64 on the wire) kept as bigint so no bit is lost. */
export type Cookie = Brand<bigint, 'Cookie'>;

export const domId = (n: number): DomId => n as DomId;
export const grantRef = (n: number): GrantRef => n as GrantRef;
export const evtchnPort = (n: number): EvtchnPort => n as EvtchnPort;
export const devId = (n: number): DevId => n as DevId;
export const cookie = (n: bigint): Cookie => n as Cookie;

/**
 * Grant refs as they cross the platform seam: one Uint32Array, the form gntdev's ioctls and the
 * simulator's hypervisor take, built once where the refs are read (a page directory walk) instead of
 * an array of numbers converted and copied at each layer. Whoever is handed one may keep it: nobody
 * writes to it after handing it on.
 */
export type GrantRefs = Brand<Uint32Array, 'GrantRefs'>;
export const grantRefs = (a: Uint32Array): GrantRefs => a as GrantRefs;
/** These refs, copied into GrantRefs. */
export const grantRefsOf = (refs: readonly number[]): GrantRefs => grantRefs(Uint32Array.from(refs));

/** DOMID_FIRST_RESERVED (xen.h): ids from here on name no domain (DOMID_SELF, DOMID_IO, ...). */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/**
 * A domain id as XenStore paths and the command line write it: decimal, no sign, no leading zero,
 * below DOMID_FIRST_RESERVED (0..32751). Undefined for anything else.
 */
export function parseDomId(s: string): DomId | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n < DOMID_FIRST_RESERVED ? domId(n) : undefined;
}
