// Builds the code under fuzzing: every module of src/displif transpiled from TypeScript and
// instrumented with istanbul's branch and statement counters, written to a private directory and
// imported from there. The one import that leaves src/displif at run time (the native addon, for
// shared memory over real mappings) gets a stub: the fuzz targets use plain memory.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createInstrumenter } from 'istanbul-lib-instrument';
import ts from 'typescript';

const DISPLIF = fileURLToPath(new URL('../src/displif/', import.meta.url));
export const COVERAGE_VAR = '__vdispld_fuzz_coverage__';

/** istanbul's per-file counters: statements, functions, branch arms. */
export interface FileCounters {
  s: Record<string, number>;
  f: Record<string, number>;
  b: Record<string, number[]>;
}

export interface InstrumentedDisplif {
  readonly dir: string;
  /** Imports one module of the instrumented copy, e.g. 'requests'. */
  load<T>(name: string): Promise<T>;
  counters(): Record<string, FileCounters>;
  close(): void;
}

export function instrumentDisplif(): InstrumentedDisplif {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-fuzz-'));
  mkdirSync(join(dir, 'displif'));
  mkdirSync(join(dir, 'native'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(dir, 'native', 'addon.js'), "export function native() { throw new Error('no native addon under the fuzzer'); }\n");
  const instrumenter = createInstrumenter({ coverageVariable: COVERAGE_VAR, esModules: true, compact: true, produceSourceMap: false });
  for (const f of readdirSync(DISPLIF).filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(join(DISPLIF, f), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 }, fileName: f }).outputText;
    writeFileSync(join(dir, 'displif', f.replace(/\.ts$/, '.js')), instrumenter.instrumentSync(js, `src/displif/${f}`));
  }
  return {
    dir,
    load: <T>(name: string) => import(pathToFileURL(join(dir, 'displif', `${name}.js`)).href) as Promise<T>,
    counters: () => ((globalThis as Record<string, unknown>)[COVERAGE_VAR] ?? {}) as Record<string, FileCounters>,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
