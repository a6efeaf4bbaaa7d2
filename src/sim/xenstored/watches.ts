// Which watch an event reaches, with which path. Pure.
import { isChildOf } from '../../xenstore/paths.js';

export interface Watch {
  /** As the client registered it (relative paths stay relative in events). */
  readonly path: string;
  /** Absolute, or the special @name. */
  readonly abs: string;
  readonly token: string;
  /** The base that was prefixed to a relative path, else undefined. */
  readonly relativeTo: string | undefined;
}

export const watchKey = (path: string, token: string): string => `${path}\0${token}`;

/**
 * The absolute path a watch reports for a change at `changed`, or undefined if it does not fire:
 * changes at or below the watch fire with their own path; the removal of an ancestor of the watch
 * fires with the watch's own path.
 */
export function firedPath(watchAbs: string, changed: string, recursive: boolean): string | undefined {
  if (isChildOf(changed, watchAbs)) return changed;
  if (recursive && isChildOf(watchAbs, changed)) return watchAbs;
  return undefined;
}

/** `abs` as the watch's owner sees it: relative to its base if it registered a relative path. */
export function reportedPath(watch: Watch, abs: string): string {
  if (watch.relativeTo === undefined) return abs;
  if (abs === watch.relativeTo) return '';
  return abs.startsWith(`${watch.relativeTo}/`) ? abs.slice(watch.relativeTo.length + 1) : abs;
}
