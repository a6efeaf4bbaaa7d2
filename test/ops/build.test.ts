// What `npm run build` makes: tsc's tree with the bundled command line as its main.js, and the
// programs it starts bundled over their files in the tree. Built once into a temp dir as the
// benchmark builds it (bench/lib/build.ts), then run: the daemon to its "serving" line on a
// simulated host, the demo (whose guests are forked from beside sim/host.js), the xenbus transport
// (a chunk), the version; and what package.json ships of it, alone, with only the native npm
// dependencies installed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildDaemon } from '../../bench/lib/build.js';
import { NotifySocket } from '../../bench/lib/notify.js';
import { PNG } from 'pngjs';
import WebSocket from 'ws';
import { commonJsFacade, NATIVE_DEPENDENCIES, PROGRAMS, treeRelativeSource } from '../../scripts/bundle.js';
import { SimHost } from '../../src/sim/host.js';
import { tempDir } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built main.js; `until`: SIGTERM once it resolves. Killed at the deadline. */
function runBuilt(
  mainJs: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; until?: Promise<unknown>; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], {
      env: { PATH: process.env['PATH'], ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

/** A loopback port nobody listens on now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const work = tempDir('build');
let mainJs = '';

before(async () => {
  mainJs = await buildDaemon(work.dir);
});

after(() => work.remove());

void test(
  'the build: a bundled main.js with its chunks at the root of the tree tsc emitted',
  { timeout: 120_000 },
  () => {
    const src = join(work.dir, 'vdispld', 'src');
    assert.equal(mainJs, join(src, 'main.js'));
    const text = readFileSync(mainJs, 'utf8');
    assert.match(text, /^#!\/usr\/bin\/env node\n/, 'executable as the package bin');
    assert.doesNotMatch(text, /from ?"\.\/cli\.js"/, 'main.js is the bundle, not tsc main.js importing cli.js');
    const chunks = readdirSync(src).filter((f) => /^chunk-\w+\.js$/.test(f));
    assert.ok(chunks.length > 0, 'modules loaded on demand are chunks beside main.js');
    // The programs main.js starts (a forked guest, a worker thread) are bundles too, over tsc's files.
    for (const p of PROGRAMS) {
      const text = readFileSync(join(src, p.replace(/\.ts$/, '.js')), 'utf8');
      assert.doesNotMatch(text, /from ?"\.{1,2}\//, `${p}: bundled, no import of tsc's tree`);
    }
    // package.json ships exactly the bundle: main.js, every chunk, the programs.
    const shipped = shippedBuildFiles().sort();
    const expected = ['main.js', ...chunks, ...PROGRAMS.map((p) => p.replace(/\.ts$/, '.js'))].sort();
    assert.deepEqual(shipped, expected);
  },
);

void test('built: --version is the package version', { timeout: 60_000 }, async () => {
  const r = await runBuilt(mainJs, ['--version']);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

void test(
  'built: `run --platform sim` says READY=1 on a simulated host and stops cleanly on SIGTERM',
  { timeout: 120_000 },
  async () => {
    const host = await SimHost.start();
    // systemd's side: SIGTERM once READY=1 came, as `systemctl stop` after a Type=notify start.
    const notify = new NotifySocket();
    try {
      const r = await runBuilt(
        mainJs,
        [
          'run',
          '--platform',
          'sim',
          '--sim-dir',
          host.dir,
          '--xenstore',
          host.xenstoredPath,
          '--output',
          'headless',
          '--control-socket',
          join(host.dir, 'control.sock'),
        ],
        { env: { NOTIFY_SOCKET: notify.path }, until: notify.nextReady(60_000) },
      );
      assert.match(r.stderr, /serving vdispl devices on headless outputs/);
      assert.match(r.stderr, /SIGTERM: stopping/);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      notify.close();
      await host.close();
    }
  },
);

void test('built: the xenbus transport is found (a chunk loaded on demand)', { timeout: 60_000 }, async () => {
  // No socket at XENSTORED_PATH: the client falls back to the xenbus device of that name, which
  // does not exist either. The failure must be the device's, not a module that was not found.
  const missing = join(work.dir, 'no-such-xenstore');
  const r = await runBuilt(
    mainJs,
    [
      'run',
      '--platform',
      'sim',
      '--sim-dir',
      work.dir,
      '--output',
      'headless',
      '--control-socket',
      join(work.dir, 'c.sock'),
    ],
    {
      env: { XENSTORED_PATH: missing },
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`xenbus device ${missing}: ${missing}: open: No such file or directory`));
  assert.doesNotMatch(r.stderr, /unavailable|Cannot find module|ERR_MODULE_NOT_FOUND/);
});

void test(
  'built: demo forks its guests from the tree and reports every connector flipping',
  { timeout: 120_000 },
  async () => {
    const r = await runBuilt(
      mainJs,
      ['demo', '--guests', '1', '--duration', '2', '--json', '--control-socket', join(work.dir, 'demo.sock')],
      {
        env: { XDG_RUNTIME_DIR: work.dir },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; connectors: { flipEvents: number }[] };
    assert.equal(report.ok, true, r.stdout);
    assert.equal(report.connectors.length, 2);
    for (const c of report.connectors) assert.ok(c.flipEvents > 0);
  },
);

/** The files of the build package.json `files` ships (its dist/src/ entries; `*` within a name). */
function shippedBuildFiles(): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
  const src = join(work.dir, 'vdispld', 'src');
  const out: string[] = [];
  for (const entry of pkg.files.filter((f) => f.startsWith('dist/src/'))) {
    const rel = entry.slice('dist/src/'.length);
    const dir = dirname(rel);
    const name = new RegExp(
      `^${basename(rel)
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')}$`,
    );
    for (const f of readdirSync(join(src, dir))) if (name.test(f)) out.push(join(dir, f));
  }
  return out;
}

/**
 * The build as a host gets it: only the files package.json `files` ships, and only the npm
 * dependencies that cannot be bundled (native ones) installed.
 */
function bareCopy(): string {
  const bare = join(work.dir, 'bare');
  for (const f of shippedBuildFiles()) {
    mkdirSync(dirname(join(bare, 'src', f)), { recursive: true });
    cpSync(join(work.dir, 'vdispld', 'src', f), join(bare, 'src', f));
  }
  for (const link of ['build', 'package.json']) symlinkSync(join(root, link), join(bare, link));
  mkdirSync(join(bare, 'node_modules'));
  for (const dep of NATIVE_DEPENDENCIES) symlinkSync(join(root, 'node_modules', dep), join(bare, 'node_modules', dep));
  return join(bare, 'src', 'main.js');
}

void test(
  'built: every npm dependency works from the bundle with only the native ones installed: metrics (prom-client), viewer (ws), snapshot (pngjs), logs (pino)',
  { timeout: 120_000 },
  async () => {
    const mainJs = bareCopy();
    const [metrics, viewer] = [await freePort(), await freePort()];
    const sock = join(work.dir, 'deps.sock');
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    const demo = runBuilt(
      mainJs,
      [
        'demo',
        '--guests',
        '1',
        '--metrics',
        String(metrics),
        '--viewer',
        String(viewer),
        '--control-socket',
        sock,
        '--log-level',
        'info',
      ],
      {
        env: { XDG_RUNTIME_DIR: work.dir },
        until: finished,
      },
    );
    try {
      // The control socket is the last thing the demo opens before its guests.
      const deadline = Date.now() + 60_000;
      while (!existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const status = await runBuilt(mainJs, ['status', '--socket', sock, '--json']);
      assert.equal(status.code, 0, status.stderr);
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      assert.match(text, /^# TYPE vdispld_requests_total counter$/m, 'prom-client registry served');
      assert.match(text, /^nodejs_eventloop_lag_seconds /m, 'default metrics collected');
      const frame = await new Promise<Buffer>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${viewer}/ws`, { origin: `http://127.0.0.1:${viewer}` });
        const t = setTimeout(() => reject(new Error('no frame from the viewer in 30 s')), 30_000);
        ws.on('message', (data: Buffer, binary: boolean) => {
          if (!binary) return;
          clearTimeout(t);
          ws.close();
          resolve(data);
        });
        ws.on('error', reject);
      });
      assert.ok(frame.length > 100, 'the viewer sent a binary frame');
      const png = join(work.dir, 'deps.png');
      let snap = await runBuilt(mainJs, ['snapshot', '1/0/0', '-o', png, '--socket', sock]);
      for (let i = 0; snap.code !== 0 && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 200)); // the guest's first frame
        snap = await runBuilt(mainJs, ['snapshot', '1/0/0', '-o', png, '--socket', sock]);
      }
      assert.equal(snap.code, 0, snap.stderr);
      const img = PNG.sync.read(readFileSync(png));
      assert.deepEqual([img.width, img.height], [640, 480]);
    } finally {
      done();
    }
    const r = await demo;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /is not a constructor|is not a function|Cannot find/);
    assert.match(r.stderr, /^\{"level":30,/m, 'pino wrote JSON log lines');
  },
);

void test(
  'built: a command whose reader goes away ends quietly with status 141 (stdout and stderr)',
  { timeout: 120_000 },
  () => {
    const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
    const node = `${q(process.execPath)} ${q(mainJs)}`;
    const env = { PATH: process.env['PATH'], XDG_RUNTIME_DIR: work.dir };
    // gone(CMD): the reader closes its end and says so through a FIFO before CMD starts, so CMD's
    // first write meets a closed pipe however the host schedules (`| true` alone raced at load 12:
    // a short text went into the pipe before true had left, status 0). `| head`: as a user types
    // it, where a short text may fit the pipe before head leaves (then the status is 0).
    const fifo = join(work.dir, 'reader-gone.fifo');
    spawnSync('mkfifo', [fifo]);
    const gone = (cmd: string): string => `{ read -r _ < ${q(fifo)}; ${cmd}; } | { exec 0<&-; echo > ${q(fifo)}; }`;
    for (const [what, line, statuses] of [
      ['help on stdout', gone(`${node} demo --help`), ['141']],
      ['help as a user pipes it', `${node} demo --help | head -n 1`, ['0', '141']],
      ['the top-level help', gone(`${node} --help`), ['141']],
      ['a usage error on stderr', gone(`${node} demo --no-such-option 2>&1 >/dev/null`), ['141']],
      // Every other command, on the stream it writes to. A command that fails (no /dev/dri, no
      // daemon) may exit with its own status before it sees the pipe gone: 1 or 141, quietly.
      ['--version', gone(`${node} --version`), ['141']],
      ['selfcheck', gone(`${node} selfcheck`), ['141']],
      ['selfcheck --json', gone(`${node} selfcheck --json`), ['141']],
      ['outputs (its answer or its error)', gone(`${node} outputs 2>&1`), ['1', '141']],
      [
        'status with no daemon (stderr)',
        gone(`${node} status --socket ${q(join(work.dir, 'none.sock'))} 2>&1`),
        ['1', '141'],
      ],
      [
        'snapshot -o - with no daemon (stderr)',
        gone(`${node} snapshot 1/0/0 -o - --socket ${q(join(work.dir, 'none.sock'))} 2>&1`),
        ['1', '141'],
      ],
      [
        'sim xenstored, until a signal',
        gone(`${node} sim xenstored --socket ${q(join(work.dir, 'xs-pipe.sock'))}`),
        ['141'],
      ],
      [
        'the demo on stdout',
        `${node} demo --guests 1 --duration 20 --control-socket ${q(join(work.dir, 'p1.sock'))} | head -n 1`,
        ['141'],
      ],
      [
        'the demo on stderr',
        `${node} demo --guests 1 --duration 20 --log-level debug --control-socket ${q(join(work.dir, 'p2.sock'))} 2>&1 >/dev/null | head -c 5`,
        ['141'],
      ],
    ] as const) {
      const r = spawnSync('bash', ['-c', `${line} >/dev/null; echo "status \${PIPESTATUS[0]}" >&2`], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
        // stdin not a socket: bash would take itself for a remote shell and read ~/.bashrc.
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const m = /^status (\d+)\n$/.exec(r.stderr);
      assert.ok(m, `${what}: nothing but the status on stderr (${line}):\n${r.stderr}`);
      assert.ok(
        (statuses as readonly string[]).includes(m[1]!),
        `${what}: status ${m[1]}, expected ${statuses.join(' or ')} (${line})`,
      );
    }
  },
);

void test("commonJsFacade: module.exports as default and each of Node's names as an export", () => {
  assert.equal(
    commonJsFacade('/m/index.js', ['Registry', 'odd-name']),
    [
      'import m from "/m/index.js";',
      'export default m;',
      'const e0 = m["Registry"];',
      'export { e0 as "Registry" };',
      'const e1 = m["odd-name"];',
      'export { e1 as "odd-name" };',
    ].join('\n'),
  );
});

void test('treeRelativeSource: import.meta.url and computed import() take the module place in the tree; literal imports stay', () => {
  const src = [
    'const here = import.meta.url;',
    'const mod = await import(spec);',
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
