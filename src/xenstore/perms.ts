// Permission strings in Xen's form: one letter (n none, r read, w write, b both) and a decimal domid.
// The first entry names the owner and the access of every domain not listed after it. Pure.
import type { XsPerm } from './types.js';

const PERM_RE = /^([nrwb])(\d{1,5})$/;
export const DOMID_MAX = 0xffff;

/** Parses one `<perm-as-string>`; undefined when malformed or the domid is out of range. */
export function parsePerm(s: string): XsPerm | undefined {
  const m = PERM_RE.exec(s);
  if (m === null) return undefined;
  const domid = Number(m[2]);
  if (domid > DOMID_MAX) return undefined;
  return { access: m[1] as XsPerm['access'], domid };
}

export const formatPerm = (p: XsPerm): string => `${p.access}${p.domid}`;

export const canWrite = (a: XsPerm['access']): boolean => a === 'w' || a === 'b';

/**
 * A domain other than dom0 and `ownDomid` that may write a node with these permissions: the owner,
 * any domain when the default access allows writing, or a listed one. undefined when none may.
 */
export function foreignWriter(perms: readonly XsPerm[], ownDomid: number): string | undefined {
  const trusted = (d: number): boolean => d === 0 || d === ownDomid;
  const [owner, ...rest] = perms;
  if (!owner) return undefined;
  if (!trusted(owner.domid)) return `owned by domain ${owner.domid}`;
  if (canWrite(owner.access)) return 'writable by every domain';
  for (const p of rest) if (!trusted(p.domid) && canWrite(p.access)) return `writable by domain ${p.domid}`;
  return undefined;
}
