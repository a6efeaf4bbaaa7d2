// What `npm run build` ships: tsc's tree with the bundled command line as its main.js. Built once
// into a temp dir as the benchmark builds it (bench/lib/build.ts), then run: the daemon to its
// "serving" line on a simulated host, the demo (whose guests are forked from the tree beside the
// bundle), the xenbus transport (loaded by a computed specifier), and the version.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildDaemon } from '../../bench/lib/build.js';
import { NotifySocket } from '../../bench/lib/notify.js';
import { treeRelativeSource } from '../../scripts/bundle.js';
import { SimHost } from '../../src/sim/host.js';
import { tempDir } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built main.js; `until`: SIGTERM once it resolves. Killed at the deadline. */
function runBuilt(mainJs: string, args: string[], o: { env?: NodeJS.ProcessEnv; until?: Promise<unknown>; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], { env: { PATH: process.env['PATH'], ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    o.until?.then(
      () => child.kill('SIGTERM'),
      () => child.kill('SIGKILL'),
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const work = tempDir('build');
let mainJs = '';

before(async () => {
  mainJs = await buildDaemon(work.dir);
});

after(() => work.remove());

void test('the build: a bundled main.js with its chunks at the root of the tree tsc emitted', { timeout: 120_000 }, () => {
  const src = join(work.dir, 'vdispld', 'src');
  assert.equal(mainJs, join(src, 'main.js'));
  const text = readFileSync(mainJs, 'utf8');
  assert.match(text, /^#!\/usr\/bin\/env node\n/, 'executable as the package bin');
  assert.doesNotMatch(text, /from ?"\.\/cli\.js"/, 'main.js is the bundle, not tsc main.js importing cli.js');
  const chunks = readdirSync(src).filter((f) => /^chunk-\w+\.js$/.test(f));
  assert.ok(chunks.length > 0, 'modules loaded on demand are chunks beside main.js');
  for (const f of ['sim/frontend/main.js', 'xenstore/transport-xenbus.js']) assert.ok(existsSync(join(src, f)), `tsc's tree keeps ${f}`);
});

void test('built: --version is the package version', { timeout: 60_000 }, async () => {
  const r = await runBuilt(mainJs, ['--version']);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

void test('built: `run --platform sim` says READY=1 on a simulated host and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
  const host = await SimHost.start();
  // systemd's side: SIGTERM once READY=1 came, as `systemctl stop` after a Type=notify start.
  const notify = new NotifySocket();
  try {
    const r = await runBuilt(
      mainJs,
      ['run', '--platform', 'sim', '--sim-dir', host.dir, '--xenstore', host.xenstoredPath, '--output', 'headless', '--control-socket', join(host.dir, 'control.sock')],
      { env: { NOTIFY_SOCKET: notify.path }, until: notify.nextReady(60_000) },
    );
    assert.match(r.stderr, /serving vdispl devices on headless outputs/);
    assert.match(r.stderr, /SIGTERM: stopping/);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    notify.close();
    await host.close();
  }
});

void test('built: the xenbus transport is found in the tree (its computed import resolves from its own place)', { timeout: 60_000 }, async () => {
  // No socket at XENSTORED_PATH: the client falls back to the xenbus device of that name, which
  // does not exist either. The failure must be the device's, not a module that was not found.
  const missing = join(work.dir, 'no-such-xenstore');
  const r = await runBuilt(mainJs, ['run', '--platform', 'sim', '--sim-dir', work.dir, '--output', 'headless', '--control-socket', join(work.dir, 'c.sock')], {
    env: { XENSTORED_PATH: missing },
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`xenbus device ${missing}: ${missing}: open: No such file or directory`));
  assert.doesNotMatch(r.stderr, /unavailable|Cannot find module|ERR_MODULE_NOT_FOUND/);
});

void test('built: demo forks its guests from the tree and reports every connector flipping', { timeout: 120_000 }, async () => {
  const r = await runBuilt(mainJs, ['demo', '--guests', '1', '--duration', '2', '--json', '--control-socket', join(work.dir, 'demo.sock')], {
    env: { XDG_RUNTIME_DIR: work.dir },
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; connectors: { flipEvents: number }[] };
  assert.equal(report.ok, true, r.stdout);
  assert.equal(report.connectors.length, 2);
  for (const c of report.connectors) assert.ok(c.flipEvents > 0);
});

void test('treeRelativeSource: import.meta.url and computed import() take the module place in the tree; literal imports stay', () => {
  const src = [
    "const here = import.meta.url;",
    "const mod = await import(spec);",
    "const lit = await import('./literal.js');",
    'type T = typeof import("pkg");',
  ].join('\n');
  const out = treeRelativeSource(src, './xenstore/select-transport.js');
  const own = 'new URL("./xenstore/select-transport.js", import.meta.url).href';
  assert.equal(
    out,
    [
      `const here = ${own};`,
      `const mod = await __vdispldTreeImport(${own}, spec);`,
      "const lit = await import('./literal.js');",
      'type T = typeof import("pkg");',
    ].join('\n'),
  );
});
