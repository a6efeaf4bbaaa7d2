// The command line as an operator meets it: --version, --help with examples and environment
// variables, and every bad option or value exiting 2 with one line that names it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;
const version = (
  JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
).version;

function vdispld(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, VDISPLD_CONFIG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

/** Runs a few at a time: the machine has two cores shared with others. */
async function inBatches<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

/** The options a --help page lists (without --help itself): name → its whole entry on one line. */
function optionEntries(help: string): Map<string, string> {
  const opts = help.split('\nOptions:\n')[1]!.split('\n\n')[0]!;
  const out = new Map<string, string>();
  for (const chunk of opts.split(/\n(?= {2}-)/)) {
    const m = /^ {2}(?:-\w, )?--([a-z-]+)/.exec(chunk);
    if (m && m[1] !== 'help') out.set(m[1]!, chunk.replace(/\s+/g, ' '));
  }
  return out;
}
const optionNames = (help: string): string[] => [...optionEntries(help).keys()];

void test(
  '--version, and --help with examples and environment variables on every command',
  { timeout: 180_000 },
  async () => {
    const commands = [
      ['run'],
      ['demo'],
      ['status'],
      ['snapshot'],
      ['outputs'],
      ['selfcheck'],
      ['sim'],
      ['sim', 'xenstored'],
    ];
    const [v, top, ...helps] = await inBatches(
      [['--version'], ['--help'], ...commands.map((c) => [...c, '--help'])],
      3,
      (a) => vdispld(a),
    );
    assert.equal(v!.code, 0);
    assert.equal(v!.stdout.trim(), version);
    helps.forEach((h, i) => {
      const what = `vdispld ${commands[i]!.join(' ')} --help`;
      assert.equal(h.code, 0, `${what}: ${h.stderr}`);
      assert.match(h.stdout, /\nExamples:\n {2}(?:[A-Z_]+=\S+ )?vdispld /, `${what} has examples`);
    });
    // Every option of every command can be set from the environment, and says how in --help.
    const run = helps[0]!.stdout;
    assert.ok(optionNames(run).length >= 15, optionNames(run).join(' '));
    helps.forEach((h, i) => {
      for (const [n, entry] of optionEntries(h.stdout)) {
        assert.match(
          entry,
          /env: VDISPLD_[A-Z_]+/,
          `vdispld ${commands[i]!.join(' ')} --${n} names its environment variable: ${entry}`,
        );
      }
    });
    for (const [n, entry] of optionEntries(run)) {
      const expected =
        { connector: 'VDISPLD_CONNECTORS', quota: 'VDISPLD_QUOTAS' }[n] ??
        `VDISPLD_${n.toUpperCase().replace(/-/g, '_')}`;
      assert.ok(entry.includes(`env: ${expected}`), `--${n} names ${expected}`);
    }
    assert.match(helps[2]!.stdout, /--socket <path>.*\n?.*env: VDISPLD_CONTROL_SOCKET/);
    for (const cmd of ['run', 'demo', 'outputs', 'status', 'snapshot'])
      assert.match(top!.stdout, new RegExp(`^ {2}${cmd}\\b`, 'm'), cmd);
    assert.match(top!.stdout, /Without a command, vdispld runs `vdispld run`[\s\S]*\nExamples:\n {2}vdispld /);
  },
);

void test('a bad option or value exits 2 with one line naming it', { timeout: 180_000 }, async () => {
  const t = tempDir('cli');
  try {
    const bad = join(t.dir, 'bad.toml');
    writeFileSync(bad, '[quotas]\nbuffers = "many"\n');
    const broken = join(t.dir, 'broken.toml');
    writeFileSync(broken, 'metrics = \n');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['run', '--quota', 'bogus=1'], {}, /--quota .*unknown/],
      [['run', '--metrics', 'x:y:z'], {}, /--metrics <addr>.*expected off, PORT/],
      [['run', '--zero-copy', 'maybe'], {}, /--zero-copy <on\|off>.*expected on or off/],
      [['--zero-copy', 'maybe'], {}, /--zero-copy <on\|off>.*expected on or off/],
      [['run'], { VDISPLD_ZERO_COPY: 'maybe' }, /^error: environment: zero-copy = "maybe": expected on or off/],
      [['run', '--frobnicate'], {}, /unknown option '--frobnicate'/],
      [['run'], { VDISPLD_UNMAPPED: 'maybe' }, /^error: environment: unmapped = "maybe"/],
      [['run'], { VDISPLD_QUOTAS: 'pages' }, /VDISPLD_QUOTAS: "pages" is not KEY=VALUE/],
      [['run'], { VDISPLD_PLATFORM: 'bogus' }, /VDISPLD_PLATFORM.*bogus|bogus.*Allowed choices/],
      [['run', '--config', join(t.dir, 'missing.toml')], {}, /missing\.toml: does not exist/],
      [['run', '--config', bad], {}, /bad\.toml: quota "buffers=many"/],
      [['run', '--config', broken], {}, /broken\.toml:1:\d+: /],
      [['demo', '--viewer', 'nowhere:99999'], {}, /--viewer <addr>.*port 99999 is above 65535/],
      [['snapshot', '1/0/0'], {}, /required option '-o, --output <file>'/],
      [['run', '--card', '/etc/passwd'], {}, /--card <path>.*expected a DRM device/],
      [['outputs', '--card', 'card0'], {}, /--card <path>.*expected 'auto' or a DRM device/],
      [
        ['sim', 'xenstored', '--socket', '/nonexistent/xs.sock', '--introduce', '0'],
        {},
        /--introduce <domid>.*expected a guest domain id/,
      ],
      [
        ['sim', 'xenstored'],
        { VDISPLD_XENSTORED_SOCKET: '/nonexistent/xs.sock', VDISPLD_INTRODUCE: '3,x' },
        /--introduce <domid>.*expected a guest domain id/,
      ],
      [['snapshot', '1/0/9', '-o', '/dev/null'], {}, /DOMID\/DEV\/CONN/],
    ];
    const results = await inBatches(cases, 3, ([args, env]) => vdispld(args, env));
    results.forEach((r, i) => {
      const [args, env, re] = cases[i]!;
      const what = `${JSON.stringify(env)} vdispld ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line, got ${r.stderr}`);
      assert.match(lines[0]!, re, what);
    });
  } finally {
    t.remove();
  }
});
