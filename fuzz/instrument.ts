// Builds the code under fuzzing: every module of the pure protocol folders (src/displif, src/kbdif)
// transpiled from TypeScript and instrumented with istanbul's branch and statement counters,
// written to a private directory and imported from there. What they import from outside is copied
// beside them, transpiled but not counted (src/util, and the native addon's pure error guard),
// except the addon itself (shared memory over real mappings), which gets a stub: the fuzz targets
// use plain memory.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createInstrumenter } from 'istanbul-lib-instrument';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** The folders whose code is fuzzed and counted. */
const PROTOCOLS = ['displif', 'kbdif'];
/** Modules outside src/displif that it imports at run time, copied uninstrumented. */
const SUPPORT = [
  ...readdirSync(join(SRC, 'util'))
    .filter((n) => n.endsWith('.ts'))
    .map((n) => `util/${n}`),
  'native/errors.ts',
];

const transpile = (src: string, fileName: string): string =>
  ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    fileName,
  }).outputText;
export const COVERAGE_VAR = '__vdispld_fuzz_coverage__';

/** istanbul's per-file counters: statements, functions, branch arms. */
export interface FileCounters {
  s: Record<string, number>;
  f: Record<string, number>;
  b: Record<string, number[]>;
}

export interface InstrumentedDisplif {
  readonly dir: string;
  /** Imports one module of the instrumented copy: 'requests' (src/displif) or 'kbdif/events'. */
  load<T>(name: string): Promise<T>;
  counters(): Record<string, FileCounters>;
  close(): void;
}

export function instrumentDisplif(): InstrumentedDisplif {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-fuzz-'));
  for (const p of PROTOCOLS) mkdirSync(join(dir, p));
  mkdirSync(join(dir, 'native'));
  mkdirSync(join(dir, 'util'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  for (const rel of SUPPORT)
    writeFileSync(join(dir, rel.replace(/\.ts$/, '.js')), transpile(readFileSync(join(SRC, rel), 'utf8'), rel));
  writeFileSync(
    join(dir, 'native', 'addon.js'),
    "export function native() { throw new Error('no native addon under the fuzzer'); }\n",
  );
  const instrumenter = createInstrumenter({
    coverageVariable: COVERAGE_VAR,
    esModules: true,
    compact: true,
    produceSourceMap: false,
  });
  for (const p of PROTOCOLS) {
    for (const f of readdirSync(join(SRC, p)).filter((n) => n.endsWith('.ts'))) {
      const js = transpile(readFileSync(join(SRC, p, f), 'utf8'), f);
      writeFileSync(join(dir, p, f.replace(/\.ts$/, '.js')), instrumenter.instrumentSync(js, `src/${p}/${f}`));
    }
  }
  return {
    dir,
    load: <T>(name: string) =>
      import(pathToFileURL(join(dir, name.includes('/') ? name : `displif/${name}`) + '.js').href) as Promise<T>,
    counters: () => ((globalThis as Record<string, unknown>)[COVERAGE_VAR] ?? {}) as Record<string, FileCounters>,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
