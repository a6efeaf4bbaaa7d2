// What the benchmark runs, built fresh in its own work directory: the C floors with the system
// compiler, and vdispld built as `npm run build` builds it, tsc's tree and then the bundled
// main.js (so start-up is measured on the JavaScript a service runs, not on tsx transpiling at
// load time). The build finds the addon, the dependencies and the package type through links to
// the repository's own.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Floors {
  readonly ring: string;
  /** The Node ring floor (bench/floor/ring-floor-node.ts), bundled: run it with node. */
  readonly ringNode: string;
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
      throw new Error(
        `building the C floor ${name} with ${cc} failed (needs gcc and libxen-dev's headers):\n${e.stderr ?? e.message}`,
      );
    }
    out[name] = exe;
  }
  return {
    ring: out['ring-floor']!,
    ringNode: await bundleNodeFloor(workDir),
    memcpy: out['memcpy-floor']!,
    xenstore: out['xs-floor']!,
  };
}

/**
 * Bundles the Node ring floor into one ES module, as vdispld's main.js is bundled (no tsx, no
 * loader in the measured process); it finds the addon through a link to build/, as vdispld's
 * build does.
 */
async function bundleNodeFloor(workDir: string): Promise<string> {
  const dir = join(workDir, 'node-floor');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'ring-floor-node.mjs');
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(REPO, 'bench', 'floor', 'ring-floor-node.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  symlinkSync(join(REPO, 'build'), join(dir, 'build'));
  return outfile;
}

/**
 * Builds `root` (default: this working tree) as its `npm run build` does into `workDir`/`name`:
 * tsc with its tsconfig.build.json, then its scripts/bundle.ts where it has one (revisions before
 * the bundle run tsc's main.js); returns the daemon's main.js.
 */
export async function buildDaemon(workDir: string, root = REPO, name = 'vdispld'): Promise<string> {
  const outDir = join(workDir, name);
  mkdirSync(outDir, { recursive: true });
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(
      process.execPath,
      [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir, '--sourceMap', 'false'],
      { cwd: root },
    );
  } catch (err) {
    // tsc still emits on type errors (someone's work in progress): run what it emitted, say so.
    const e = err as { stdout?: string };
    process.stderr.write(`bench: tsc reported errors; benchmarking what it emitted:\n${e.stdout ?? ''}\n`);
  }
  const bundler = join(root, 'scripts', 'bundle.ts');
  if (existsSync(bundler)) {
    try {
      await run(process.execPath, ['--import', 'tsx', bundler, '--root', root, '--out', outDir], { cwd: root });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`bundling ${root} failed:\n${e.stderr ?? e.message}`);
    }
  }
  for (const link of ['build', 'node_modules', 'package.json']) symlinkSync(join(REPO, link), join(outDir, link));
  return join(outDir, 'src', 'main.js');
}

/** Builds vdispld as it was at git revision `rev` (read with git archive; the working tree is not touched). */
export async function buildRevision(workDir: string, rev: string): Promise<string> {
  const root = join(workDir, `source-${rev.replace(/[^\w.-]/g, '_')}`);
  mkdirSync(root, { recursive: true });
  const tar = await run(
    'git',
    [
      '-C',
      REPO,
      'archive',
      '--format=tar',
      rev,
      'src',
      'scripts',
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ],
    {
      encoding: 'buffer',
      maxBuffer: 1 << 28,
    },
  );
  await new Promise<void>((resolvePromise, reject) => {
    const child = execFile('tar', ['-x', '-C', root], (err) => (err ? reject(err) : resolvePromise()));
    child.stdin!.end(tar.stdout);
  });
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  return buildDaemon(workDir, root, `vdispld-${rev.replace(/[^\w.-]/g, '_')}`);
}
