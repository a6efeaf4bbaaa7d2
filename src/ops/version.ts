// The package version, for status and the viewer: read from package.json beside src/ (tsx) or
// dist/src/ (compiled).
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      cached = (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
      return cached;
    } catch {
      /* the other layout */
    }
  }
  return (cached = 'unknown');
}
