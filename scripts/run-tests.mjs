#!/usr/bin/env node
// Runs the test suite on Node's built-in runner. Node 20 has no --test globs, so the files are
// collected here. Arguments narrow the run: `npm test -- test/displif` or a file path.
// test/e2e/ (real Xen under QEMU) runs only through `npm run e2e` or with VDISPLD_E2E=1, except
// test/e2e/unit: the harness's own tests need no QEMU, and they decide whether a real-Xen run passes.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const withE2e = process.env.VDISPLD_E2E === '1';

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name === 'node_modules' || name === 'fixtures') continue;
      if (!withE2e && relative(root, p) === join('test', 'e2e')) {
        collect(join(p, 'unit'), out);
        continue;
      }
      collect(p, out);
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const roots = args.length ? args.map((a) => join(root, a)) : [join(root, 'test')];
const files = roots.flatMap((r) => (statSync(r).isDirectory() ? collect(r, []) : [r]));
if (files.length === 0) {
  console.error('run-tests: no test files found under', roots.join(', '));
  process.exit(1);
}
// A test that hangs fails after 15 minutes, naming itself, instead of holding the run (and CI) to
// its own limit; the longest test here takes about 2.5 minutes at load 20. Node 20.11 has the flag.
const [major, minor] = process.versions.node.split('.').map(Number);
const perTest = major > 20 || (major === 20 && minor >= 11) ? ['--test-timeout=900000'] : [];
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    ...perTest,
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
