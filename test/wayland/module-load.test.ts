// The Wayland client is a module of its own (vdispl_wayland.node) so that a dom0 without
// libwayland-client runs every other output. When `--output wayland` is asked for and the module
// is missing or cannot load, vdispld as it ships exits non-zero with one line naming the package
// to install, not a compositor it could not reach and not a stack trace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDaemon } from '../../bench/lib/build.js';
import { findBuilt } from '../../src/native/addon.js';

const skip = findBuilt('vdispl_wayland.node')
  ? false
  : 'vdispl_wayland.node is not built here (scripts/setup.sh installs the Wayland packages)';

const work = mkdtempSync(join(tmpdir(), 'vdispld-wl-module-'));
let MAIN = '';
before(async () => {
  if (!skip) MAIN = await buildDaemon(work);
});
after(() => rmSync(work, { recursive: true, force: true }));

function demoOnWayland(main: string, env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [main, 'demo', '--output', 'wayland', '--wayland-display', 'no-such-socket'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at |cannot reach the Wayland compositor/);
  return lines[0]!;
}

void test('libwayland-client cannot load: one line naming the module and the package, exit 1', { skip }, () => {
  // A library the loader finds first and refuses (an empty file): what a broken or foreign install gives.
  const libs = join(work, 'broken-libs');
  mkdirSync(libs);
  writeFileSync(join(libs, 'libwayland-client.so.0'), '');
  const r = demoOnWayland(MAIN, { LD_LIBRARY_PATH: libs });
  assert.equal(r.status, 1, r.stderr);
  const line = oneLine(r.stderr);
  assert.match(line, /^vdispld: the Wayland output cannot load \S+vdispl_wayland\.node: .*libwayland-client\.so\.0/);
  assert.match(line, /\(install libwayland-client0\)$/);
});

void test('the module was not built: one line saying how to build it, exit 1', { skip }, () => {
  // The bundle as a build without the Wayland packages leaves it: the main addon only.
  const root = join(work, 'without-wayland');
  cpSync(join(MAIN, '..'), join(root, 'src'), { recursive: true });
  mkdirSync(join(root, 'build', 'Release'), { recursive: true });
  symlinkSync(findBuilt('vdispl_native.node')!, join(root, 'build', 'Release', 'vdispl_native.node'));
  symlinkSync(join(MAIN, '..', '..', 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(MAIN, '..', '..', 'package.json'), join(root, 'package.json'));
  const r = demoOnWayland(join(root, 'src', 'main.js'), {});
  assert.equal(r.status, 1, r.stderr);
  assert.match(oneLine(r.stderr), /^vdispld: this vdispld was built without Wayland support \(install libwayland-dev/);
});
