#!/usr/bin/env node
// The shipped entry, dist/src/main.js (the package's bin): runs the command line's bundle,
// vdispld.cjs beside it, compiled from V8's code cache (vdispld.cjs.cache) where it fits.
//
// Start-up was mostly loading and compiling JavaScript (docs/PERFORMANCE.md, start-up), and
// Node 20 has no code cache for ES modules; a classic script compiled by vm.Script takes one. The
// cache is made at build time by running the daemon to READY=1 (scripts/code-cache.ts), so it
// holds the functions a start compiles. Its first line names the build it was made from, and V8
// checks the rest (its version, its flags, the source's length): a cache of another build is not
// offered, one V8 refuses is ignored, and either way the bundle is compiled from source as
// without a cache. VDISPLD_CODE_CACHE_OUT=FILE writes the cache at exit (the build's use only).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, Script } from 'node:vm';
import { buildIdOf, recordCodeCache, type CodeCacheState } from '../util/code-cache-state.js';

// In a function: its locals (the cache file's bytes above all) are garbage once the bundle runs;
// the daemon's live memory is what it keeps (docs/PERFORMANCE.md, memory).
function runBundle(bundle: string): void {
  const source = readFileSync(bundle, 'utf8');
  const buildId = buildIdOf(source) ?? '';

  let cachedData: Buffer | undefined;
  let state: CodeCacheState = 'absent';
  try {
    const file = readFileSync(`${bundle}.cache`);
    const nl = file.indexOf(10);
    if (nl > 0 && file.toString('latin1', 0, nl) === buildId) cachedData = file.subarray(nl + 1);
    else state = 'stale';
  } catch {
    /* no cache: compiled from source */
  }

  // The bundle is CommonJS's module function, (function (exports, require, ...) {...}), as it is.
  const script = new Script(source, {
    filename: bundle,
    cachedData,
    // import() inside the bundle (Node's built-ins, unix-dgram) resolves as in any module of this process.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData) state = script.cachedDataRejected === true ? 'rejected' : 'accepted';
  recordCodeCache({ state, bytes: cachedData?.length ?? 0 });

  const out = process.env['VDISPLD_CODE_CACHE_OUT'];
  if (out) {
    delete process.env['VDISPLD_CODE_CACHE_OUT'];
    // At exit the cache holds every function the run compiled, not only the top level.
    process.once('exit', () => {
      writeFileSync(`${out}.tmp`, Buffer.concat([Buffer.from(`${buildId}\n`, 'latin1'), script.createCachedData()]));
      renameSync(`${out}.tmp`, out);
    });
  }

  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void)(
    module.exports,
    createRequire(bundle),
    module,
    bundle,
    dirname(bundle),
  );
}

runBundle(fileURLToPath(new URL('./vdispld.cjs', import.meta.url)));
