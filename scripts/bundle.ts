// The second half of `npm run build`: after tsc has emitted dist/src/ module by module, the
// command line (src/main.ts and everything it imports, npm dependencies included) is bundled by
// esbuild into dist/src/main.js, replacing tsc's. Start-up is almost all module loading, and one
// file costs one resolution, one read and one compile where the tree costs a hundred and more.
// Modules loaded on demand (import()) become chunks beside main.js, so a daemon that never needs
// them (the viewer, metrics, KMS, the other commands) never reads them.
//
// Some modules name files next to themselves at run time: the simulator forks sim/frontend/main.js
// from beside sim/host.js, the PNG encoder starts ops/frames/png-worker.js beside itself, the addon
// loader walks up from native/ to build/Release. In a bundle "next to myself" would be next to
// main.js, so the plugin below gives each bundled module the import.meta.url it has in tsc's tree,
// and resolves computed import() specifiers from there. Those other programs (a forked process, a
// worker thread) are bundled too, each over tsc's file of the same name, with what they import
// inside them. What a host runs is then main.js, its chunks and PROGRAMS (package.json `files`
// ships exactly those): the rest of tsc's tree is only where the URLs point.
//
//   node --import tsx scripts/bundle.ts [--root DIR] [--out DIR]   (default: this checkout, DIR/dist)
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

// Which dependencies ship inside the bundle and which are required at run time: every plain
// JavaScript one (commander, pino, prom-client, smol-toml, ws, pngjs) is inlined, so what ships
// runs with none of them installed (they are devDependencies: the build's input); those that load
// a compiled addon from their own directory cannot be, and are required from node_modules, only
// when used (unix-dgram: logging to journald): they are the package's dependencies.
/** npm dependencies that load a compiled addon from their own directory; required from node_modules at run time. */
export const NATIVE_DEPENDENCIES: readonly string[] = ['unix-dgram'];

/**
 * Programs started from a file of tsc's tree rather than imported: a worker thread
 * (`new Worker(new URL('./x.js', import.meta.url))`) or a forked process. Each is bundled on its
 * own, over tsc's file of the same name, so what it imports is inside it too.
 */
export const PROGRAMS: readonly string[] = ['ops/frames/png-worker.ts', 'sim/frontend/main.ts'];

// CommonJS dependencies inside an ESM bundle call require() for Node's built-ins; an ES module has
// no require, so each output file makes one from its own URL.
const REQUIRE_BANNER =
  "import { createRequire as __vdispldCreateRequire } from 'node:module'; const require = __vdispldCreateRequire(import.meta.url);";

const TREE_IMPORT_HELPER = '__vdispldTreeImport';
// A relative specifier resolved against the module's place in the tree; a bare one as it is.
const TREE_IMPORT_BANNER = `const ${TREE_IMPORT_HELPER} = (base, spec) => import(typeof spec === 'string' && /^\\.{1,2}\\//.test(spec) ? new URL(spec, base).href : spec);`;

/**
 * Rewrites one module's source so that it behaves as in tsc's tree: `import.meta.url` is the URL
 * of its compiled file there, and `import(x)` with anything but a string literal resolves from
 * that URL. `treePath` is the module's compiled path relative to the tree root ("./sim/host.js").
 */
export function treeRelativeSource(source: string, treePath: string): string {
  const own = `new URL(${JSON.stringify(treePath)}, import.meta.url).href`;
  // import.meta.url first: the helper's argument brings one of its own.
  return source
    .replace(/\bimport\.meta\.url\b/g, own)
    .replace(/\bimport\(\s*(?=[^'"`\s)])/g, `${TREE_IMPORT_HELPER}(${own}, `);
}

/** `outDir`: where in the tree (relative to srcRoot) the output file that holds the modules is written. */
function treeRelative(srcRoot: string, outDir = ''): Plugin {
  return {
    name: 'vdispld-tree-relative',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const rel = relative(srcRoot, args.path);
        if (rel.startsWith('..') || !/\bimport(\.meta\.url\b|\(\s*[^'"`\s)])/.test(source)) return undefined;
        const fromOut = relative(join(srcRoot, outDir), join(srcRoot, rel)).split(sep).join('/');
        const treePath = (fromOut.startsWith('../') ? fromOut : `./${fromOut}`).replace(/\.ts$/, '.js');
        return { contents: treeRelativeSource(source, treePath), loader: 'ts' };
      });
    },
  };
}

/** True if Node loads `file` as CommonJS: `.cjs`, or `.js` whose nearest package.json is not `"type": "module"`. */
export function isCommonJsFile(file: string): boolean {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type !== 'module';
    if (dirname(dir) === dir) return true;
  }
}

/**
 * The ES module that stands for a CommonJS module in a dynamic import(): its `module.exports` as
 * the default export plus the named exports Node gives it (`names`, from Node's own import of it).
 */
export function commonJsFacade(file: string, names: readonly string[]): string {
  const lines = [`import m from ${JSON.stringify(file)};`, 'export default m;'];
  names.forEach((n, i) =>
    lines.push(`const e${i} = m[${JSON.stringify(n)}];`, `export { e${i} as ${JSON.stringify(n)} };`),
  );
  return lines.join('\n');
}

const CJS_FACADE = 'vdispld-cjs-facade';

/**
 * import() of a CommonJS package, as Node runs it, yields `module.exports` as `default` and its
 * named exports beside it (`(await import('prom-client')).Registry`). With splitting, esbuild makes
 * the package a chunk of its own whose only export is `default`, so in the bundle every named
 * export was undefined ("Registry is not a constructor"). Each such import goes through a facade
 * module instead that exports what Node's import of the package exports, by name; it stays a chunk
 * loaded on demand. The names come from Node itself, importing the package at build time.
 */
function commonJsDynamicImports(): Plugin {
  return {
    name: CJS_FACADE,
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || isBuiltin(args.path) || NATIVE_DEPENDENCIES.includes(args.path))
          return undefined;
        const r = await b.resolve(args.path, {
          kind: 'import-statement',
          importer: args.importer,
          resolveDir: args.resolveDir,
        });
        if (r.errors.length > 0 || r.external || !isCommonJsFile(r.path)) return undefined;
        return { path: r.path, namespace: CJS_FACADE };
      });
      b.onLoad({ filter: /.*/, namespace: CJS_FACADE }, async (args) => {
        const ns = (await import(pathToFileURL(args.path).href)) as Record<string, unknown>;
        return {
          contents: commonJsFacade(
            args.path,
            Object.keys(ns).filter((n) => n !== 'default'),
          ),
          resolveDir: dirname(args.path),
          loader: 'js',
        };
      });
    },
  };
}

export interface BundleOptions {
  /** The checkout whose src/main.ts is bundled. */
  readonly root: string;
  /** The build directory: tsc's tree is `out`/src, and main.js plus its chunks are written there. */
  readonly out: string;
  /** A source map beside each output file (default true; stack traces map with --enable-source-maps). */
  readonly sourcemap?: boolean;
}

/** Bundles `root`/src/main.ts into `out`/src/main.js (+ chunk-*.js) and each of PROGRAMS over its file in the tree; returns the bytes written per file. */
export async function bundleDaemon(o: BundleOptions): Promise<Record<string, number>> {
  const srcRoot = join(o.root, 'src');
  const outDir = join(o.out, 'src');
  // Chunk names carry a content hash: the last build's would stay behind beside the new ones.
  if (existsSync(outDir))
    for (const f of readdirSync(outDir)) if (/^chunk-\w+\.js(\.map)?$/.test(f)) rmSync(join(outDir, f));
  // What the daemon and the programs it starts are built with alike.
  const common = {
    absWorkingDir: o.root,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: o.sourcemap ?? true,
    // Whitespace and syntax only: names stay, so stack traces and logs read as the source does.
    minifyWhitespace: true,
    minifySyntax: true,
    external: [...NATIVE_DEPENDENCIES],
    banner: { js: `${REQUIRE_BANNER}\n${TREE_IMPORT_BANNER}` },
    metafile: true,
    logLevel: 'warning',
  } satisfies BuildOptions;
  const result = await build({
    ...common,
    entryPoints: { main: join(srcRoot, 'main.ts') },
    outdir: outDir,
    // Chunks in the tree's root (no sub-folder), so every output file's URL is the root's.
    chunkNames: 'chunk-[hash]',
    splitting: true,
    plugins: [treeRelative(srcRoot), commonJsDynamicImports()],
  });
  const programs = await Promise.all(
    PROGRAMS.map((p) =>
      build({
        ...common,
        entryPoints: [join(srcRoot, p)],
        outfile: join(outDir, p.replace(/\.ts$/, '.js')),
        plugins: [treeRelative(srcRoot, dirname(p))],
      }),
    ),
  );
  const sizes: Record<string, number> = {};
  for (const r of [result, ...programs])
    for (const [file, meta] of Object.entries(r.metafile.outputs))
      if (file.endsWith('.js')) sizes[relative(o.out, resolve(o.root, file))] = meta.bytes;
  return sizes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { root: { type: 'string' }, out: { type: 'string' } } });
  const root = resolve(values.root ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const out = resolve(values.out ?? join(root, 'dist'));
  const sizes = await bundleDaemon({ root, out });
  const main = Object.entries(sizes).find(([f]) => f.endsWith('main.js'));
  const chunks = Object.keys(sizes).filter((f) => /chunk-\w+\.js$/.test(f)).length;
  const programs = Object.keys(sizes).length - chunks - 1;
  process.stdout.write(
    `bundle: ${main?.[0] ?? 'main.js'} ${((main?.[1] ?? 0) / 1024).toFixed(0)} KiB, ${chunks} chunk(s) loaded on demand, ${programs} program(s) it starts\n`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
