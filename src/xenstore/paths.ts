// XenStore path rules (docs/misc/xenstore.txt, XENSTORE_*_PATH_MAX in xs_wire.h), shared by the
// client (to refuse before sending) and the simulated xenstored (to answer EINVAL). Pure.
import { ABS_PATH_MAX, REL_PATH_MAX } from './wire.js';

const PATH_CHARS = /^[A-Za-z0-9\-/_@]+$/;

export type PathProblem =
  | { readonly kind: 'empty' }
  | { readonly kind: 'too-long'; readonly max: number }
  | { readonly kind: 'bad-char' }
  | { readonly kind: 'bad-slash' }
  | { readonly kind: 'special-not-allowed' };

export const isSpecialPath = (path: string): boolean => path.startsWith('@');

/**
 * Why `path` is not acceptable, or undefined when it is. Special paths (`@introduceDomain`) are
 * valid only where `allowSpecial` (watches, permissions of the special nodes).
 */
export function pathProblem(path: string, allowSpecial = false): PathProblem | undefined {
  if (path.length === 0) return { kind: 'empty' };
  const max = path.startsWith('/') ? ABS_PATH_MAX : REL_PATH_MAX;
  if (Buffer.byteLength(path, 'utf8') > max) return { kind: 'too-long', max };
  if (!PATH_CHARS.test(path)) return { kind: 'bad-char' };
  if (isSpecialPath(path)) return allowSpecial ? undefined : { kind: 'special-not-allowed' };
  if (path === '/') return undefined;
  if (path.includes('//') || path.endsWith('/')) return { kind: 'bad-slash' };
  return undefined;
}

export function describePathProblem(p: PathProblem): string {
  switch (p.kind) {
    case 'empty':
      return 'empty path';
    case 'too-long':
      return `path longer than ${p.max} bytes`;
    case 'bad-char':
      return 'path may hold only A-Z a-z 0-9 - / _ @';
    case 'bad-slash':
      return 'path has a doubled or trailing slash';
    case 'special-not-allowed':
      return 'special @ paths are valid only for watches and permissions';
  }
}

/** The home of a domain, against which relative paths resolve. */
export const domainPath = (domid: number): string => `/local/domain/${domid}`;

/** True when `child` is `parent` or below it (the protocol's "child of" relation). */
export function isChildOf(child: string, parent: string): boolean {
  if (child === parent) return true;
  if (parent === '/') return child.startsWith('/');
  return child.startsWith(parent) && child.charCodeAt(parent.length) === 0x2f;
}

/** Parent of an absolute non-root path. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
