// The documentation and the program cannot drift apart: every command line README.md and
// docs/OPERATIONS.md show is listed in test/shipped/documented.ts, and each listed one that can run
// on this machine runs against vdispld as it ships, the bundle AND the package `npm pack` makes,
// installed as the docs say (shipped-runner.ts, in private mount and network namespaces).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOCUMENTED } from './documented.js';
import { commandPattern, documentedCommands, extractCommands, notRunAsDocumented } from './documented-commands.js';
import { SCENARIO_NAMES, type ShippedResult } from './shipped-runner.js';

const root = new URL('../..', import.meta.url).pathname;
const PACKAGE_SCENARIOS = ['pack-install', 'npm-start'];

void test('extractCommands: shell blocks line by line without comments, inline spans that are command lines', () => {
  const md = [
    'Run `vdispld status --json` or `vdispld`; see `--metrics 9464` and `XENSTORED_PATH=/x xenstore-ls`.',
    'A wrapped `journalctl -u vdispld',
    'DOMID=5` span.',
    '```sh',
    '# a comment line',
    'npm run e2e -- 1 2   # trailing comment',
    '```',
    '```toml',
    'metrics = "127.0.0.1:9464"',
    '```',
    '```',
    'dom1 main  640x480',
    '```',
  ].join('\n');
  assert.deepEqual(extractCommands(md), [
    'npm run e2e -- 1 2',
    'vdispld status --json',
    'XENSTORED_PATH=/x xenstore-ls',
    'journalctl -u vdispld DOMID=5',
  ]);
});

void test('commandPattern: a documented line matches the lines that run it as written, and only those', () => {
  const runs = (doc: string, line: string): boolean => notRunAsDocumented(doc, [line]).length === 0;
  assert.ok(runs('vdispld snapshot DOMID/DEV/CONN -o file.png [--json]', 'vdispld snapshot 1/0/main -o file.png'));
  assert.ok(runs('vdispld snapshot DOMID/DEV/CONN -o file.png [--json]', 'vdispld snapshot 1/0/0 -o file.png --json'));
  assert.ok(!runs('vdispld snapshot DOMID/DEV/CONN -o file.png [--json]', 'vdispld snapshot 1/0/0 --out file.png'));
  assert.ok(!runs('vdispld snapshot DOMID/DEV/CONN -o file.png', 'vdispld snapshot 1/0 -o file.png'));
  assert.ok(runs('vdispld sim xenstored --socket PATH', 'vdispld sim xenstored --socket /w/xs.sock --introduce 3'));
  assert.ok(runs('XENSTORED_PATH=/tmp/xs.sock xenstore-ls', 'XENSTORED_PATH=/w/xs-bundle.sock xenstore-ls'));
  assert.ok(!runs('XENSTORED_PATH=/tmp/xs.sock xenstore-ls', 'xenstore-ls'));
  assert.ok(runs('npm install -g ./vdispld-<version>.tgz', 'npm install -g ./vdispld-*.tgz'));
  // An inline span names the start of a command; a longer word is another command.
  assert.ok(runs('kill -USR1', 'kill -USR1 4242'));
  assert.ok(!runs('vdispld status', 'vdispld statusx'));
  assert.ok(!runs('vdispld status --json', 'vdispld status'));
  // Both halves of a && line must run.
  assert.deepEqual(notRunAsDocumented('npm pack && npm install -g ./vdispld-*.tgz', ['npm pack']), [
    'npm install -g ./vdispld-*.tgz',
  ]);
  assert.equal(
    commandPattern('xenstore-write /local/domain/0/vdispld/quotas/pages 20000').test(
      'xenstore-write /local/domain/0/vdispld/quotas/pages 2000',
    ),
    false,
  );
});

void test('every command line in README.md and docs/OPERATIONS.md has a test, and every listed one is still documented', () => {
  const documented = documentedCommands(root);
  const missing = documented.filter((c) => !(c.text in DOCUMENTED)).map((c) => `${c.file}: ${c.text}`);
  assert.deepEqual(
    missing,
    [],
    'documented command lines with no entry in test/shipped/documented.ts (add one: a scenario that runs it, or why it cannot run here and what tests it)',
  );
  const stale = Object.keys(DOCUMENTED).filter((k) => !documented.some((c) => c.text === k));
  assert.deepEqual(stale, [], 'entries in test/shipped/documented.ts that no document shows any more');
});

void test('each listed line names a scenario that exists, an npm script that exists, or a test path that holds tests', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const [line, how] of Object.entries(DOCUMENTED)) {
    if ('scenario' in how)
      assert.ok(
        [...SCENARIO_NAMES, ...PACKAGE_SCENARIOS].includes(how.scenario),
        `${line}: no scenario ${how.scenario}`,
      );
    else if ('script' in how) {
      assert.ok(pkg.scripts[how.script], `${line}: package.json has no script ${how.script}`);
      // The script's own program file is there (node --import tsx FILE ...).
      const file = /\s([\w/.-]+\.ts)\b/.exec(pkg.scripts[how.script]!)?.[1];
      if (file) assert.ok(existsSync(join(root, file)), `${line}: ${file} is missing`);
    } else if ('testPath' in how) {
      const p = join(root, how.testPath);
      assert.ok(existsSync(p), `${line}: ${how.testPath} is missing`);
      const hasTests = (d: string): boolean =>
        statSync(d).isDirectory() ? readdirSync(d).some((f) => hasTests(join(d, f))) : d.endsWith('.test.ts');
      assert.ok(hasTests(p), `${line}: ${how.testPath} holds no *.test.ts`);
    } else assert.ok(how.elsewhere.length > 20, `${line}: say why it cannot run here and what tests it`);
  }
});

/** Why the shipped run cannot happen on this machine, or undefined. */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (mount and network namespaces, overlay mounts)';
  for (const [cmd, args] of [
    ['unshare', ['--mount', '--net', '--propagation', 'private', 'true']],
    ['ip', ['-V']],
    ['xenstore-ls', ['--help']],
    ['systemd-analyze', ['--version']],
  ] as const) {
    if (!runs(cmd, [...args])) return `${cmd} missing or not permitted (scripts/setup.sh installs what is needed)`;
  }
  return undefined;
}

/** The tool is there (xenstore-ls has no harmless flag that exits 0: being found is enough). */
function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && (cmd === 'xenstore-ls' || r.status === 0);
}

const skip = unavailable();

void test(
  'the documented command lines run against the bundle and the installed npm package',
  { skip, timeout: 1_500_000 },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'vdispld-shipped-'));
    try {
      const results: ShippedResult[] = [];
      let log = '';
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            process.execPath,
            '--import',
            'tsx',
            join(root, 'test/shipped/shipped-runner.ts'),
            work,
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith('{')) results.push(JSON.parse(line) as ShippedResult);
            else log += `${line}\n`;
          }
        });
        child.stderr.on('data', (d: Buffer) => (log += d.toString()));
        child.once('error', reject);
        child.once('close', resolve);
      });
      for (const r of results) {
        await t.test(`${r.scenario} (${r.target}, ${r.seconds.toFixed(1)} s)`, () => assert.ok(r.ok, r.detail));
      }
      assert.equal(code, 0, log.slice(-3000));
      // Every scenario the table names passed, on both targets where it runs vdispld, and ran each
      // documented line it stands for as written.
      const targetsOf = (s: string): string[] =>
        s === 'pack-install' ? ['package'] : s === 'npm-start' ? ['bundle'] : ['bundle', 'installed'];
      const notRun: string[] = [];
      for (const [line, how] of Object.entries(DOCUMENTED)) {
        if (!('scenario' in how)) continue;
        for (const target of targetsOf(how.scenario)) {
          const r = results.find((x) => x.scenario === how.scenario && x.target === target);
          assert.ok(r?.ok, `${how.scenario} did not pass against the ${target}`);
          for (const part of notRunAsDocumented(line, r.ran))
            notRun.push(`${how.scenario} (${target}) did not run \`${part}\` (documented: ${line})`);
        }
      }
      assert.deepEqual(notRun, [], 'documented lines a scenario stands for but did not run as written');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);
