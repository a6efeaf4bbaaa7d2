// What the shipped entry (src/boot/main.ts) did with V8's code cache for the command line's
// bundle, for `vdispld selfcheck` to report, and the build line the bundle ends with. The report
// is kept on a global symbol: the entry runs before the bundle, and the bundle is a separate
// script, so no module state is shared between them.

/**
 * `accepted`: compiled from the cache; `rejected`: V8 refused it (another node, or other V8
 * flags) and the bundle was compiled from source; `stale`: the cache belongs to another build;
 * `absent`: no cache file; `none`: not started through the shipped entry (tsx, tests).
 */
export type CodeCacheState = 'accepted' | 'rejected' | 'stale' | 'absent' | 'none';

export interface CodeCacheReport {
  readonly state: CodeCacheState;
  /** Bytes of V8 data in the cache file (0 without one). */
  readonly bytes: number;
}

const KEY = Symbol.for('vdispld.codeCache');

export function recordCodeCache(report: CodeCacheReport): void {
  (globalThis as Record<symbol, unknown>)[KEY] = report;
}

export function codeCacheReport(): CodeCacheReport {
  return ((globalThis as Record<symbol, unknown>)[KEY] as CodeCacheReport | undefined) ?? { state: 'none', bytes: 0 };
}

/** The bundle's last line names its build: `//# vdispld-build=<sha256 of everything before it>`. */
export const BUILD_LINE_PREFIX = '//# vdispld-build=';

/** The build a bundle's source names on its last line, or undefined. */
export function buildIdOf(source: string): string | undefined {
  const at = source.lastIndexOf(BUILD_LINE_PREFIX);
  if (at < 0) return undefined;
  const id = source.slice(at + BUILD_LINE_PREFIX.length).trim();
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}
