// What the benchmark runs, built fresh in its own work directory: the C floors with the system
// compiler, and vdispld compiled by tsc as `npm run build` compiles it (so start-up is measured on
// the JavaScript a service runs, not on tsx transpiling at load time). The compiled tree finds the
// addon, the dependencies and the package type through links to the repository's own.
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Floors {
  readonly ring: string;
  readonly memcpy: string;
  readonly xenstore: string;
}

/** Compiles bench/floor/*.c with $CC (default cc) at -O2. */
export async function buildFloors(workDir: string): Promise<Floors> {
  const cc = process.env['CC'] ?? 'cc';
  const out: Record<string, string> = {};
  for (const name of ['ring-floor', 'memcpy-floor', 'xs-floor']) {
    const exe = join(workDir, name);
    try {
      await run(cc, ['-O2', '-Wall', '-Wextra', '-o', exe, join(REPO, 'bench', 'floor', `${name}.c`)]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`building the C floor ${name} with ${cc} failed (needs gcc and libxen-dev's headers):\n${e.stderr ?? e.message}`);
    }
    out[name] = exe;
  }
  return { ring: out['ring-floor']!, memcpy: out['memcpy-floor']!, xenstore: out['xs-floor']! };
}

/** Compiles src/ with tsconfig.build.json into `workDir`; returns the daemon's main.js. */
export async function buildDaemon(workDir: string): Promise<string> {
  const outDir = join(workDir, 'vdispld');
  mkdirSync(outDir, { recursive: true });
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', outDir, '--sourceMap', 'false'], { cwd: REPO });
  } catch (err) {
    // tsc still emits on type errors (someone's work in progress): run what it emitted, say so.
    const e = err as { stdout?: string };
    process.stderr.write(`bench: tsc reported errors; benchmarking what it emitted:\n${e.stdout ?? ''}\n`);
  }
  for (const link of ['build', 'node_modules', 'package.json']) symlinkSync(join(REPO, link), join(outDir, link));
  return join(outDir, 'src', 'main.js');
}
