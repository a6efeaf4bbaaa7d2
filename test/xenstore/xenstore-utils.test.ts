// Debian's xenstore-utils against the simulated xenstored through XENSTORED_PATH: the real
// libxenstore is the judge of our wire protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { EventLog, fixture } from './helpers.js';

const run = promisify(execFile);
const TOOLS = [
  'xenstore-read',
  'xenstore-write',
  'xenstore-ls',
  'xenstore-rm',
  'xenstore-chmod',
  'xenstore-watch',
  'xenstore-list',
];
const missing = TOOLS.filter((t) => !existsSync(`/usr/bin/${t}`));

async function xs(
  socket: string,
  tool: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(`/usr/bin/${tool}`, args, { env: { ...process.env, XENSTORED_PATH: socket }, timeout: 10_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

void test('xenstore-utils are installed (scripts/setup.sh installs the xenstore-utils package)', () => {
  assert.deepEqual(missing, []);
});

void test(
  'xenstore-write, -read, -ls, -list, -rm, -chmod against the simulated xenstored',
  { skip: missing.length > 0 },
  async () => {
    const f = await fixture();
    const sock = f.xsd.socketPath;
    try {
      assert.equal((await xs(sock, 'xenstore-write', '/vm/name', 'guest-1', '/vm/dev/0/res', '1920x1080')).code, 0);
      assert.equal(await f.dom0.read('/vm/name'), 'guest-1', 'our client reads what the real tool wrote');
      await f.dom0.write('/vm/dev/1/res', '800x600');

      const read = await xs(sock, 'xenstore-read', '/vm/name', '/vm/dev/1/res');
      assert.equal(read.code, 0, read.stderr);
      assert.equal(read.stdout, 'guest-1\n800x600\n');
      const absent = await xs(sock, 'xenstore-read', '/vm/none');
      assert.notEqual(absent.code, 0);
      assert.match(absent.stderr, /couldn't read path \/vm\/none/);

      assert.equal((await xs(sock, 'xenstore-list', '/vm/dev')).stdout, '0\n1\n');
      const ls = await xs(sock, 'xenstore-ls', '/vm');
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(ls.stdout, 'name = "guest-1"\ndev = ""\n 0 = ""\n  res = "1920x1080"\n 1 = ""\n  res = "800x600"\n');

      assert.equal((await xs(sock, 'xenstore-chmod', '/vm/name', 'n0', 'r5')).code, 0);
      assert.deepEqual(await f.dom0.getPerms('/vm/name'), [
        { domid: 0, access: 'n' },
        { domid: 5, access: 'r' },
      ]);
      assert.equal((await xs(sock, 'xenstore-chmod', '-r', '/vm/dev', 'b3')).code, 0);
      assert.deepEqual(await f.dom0.getPerms('/vm/dev/1/res'), [{ domid: 3, access: 'b' }]);
      const perms = await xs(sock, 'xenstore-ls', '-p', '/vm');
      assert.match(perms.stdout, /name = "guest-1"[ .]*\(n0,r5\)\n/);
      assert.match(perms.stdout, / {2}res = "800x600"[ .]*\(b3\)\n/);

      assert.equal((await xs(sock, 'xenstore-rm', '/vm/dev/0')).code, 0);
      assert.deepEqual(await f.dom0.directory('/vm/dev'), ['1']);
      assert.equal((await xs(sock, 'xenstore-rm', '/vm')).code, 0);
      assert.equal(await f.dom0.tryRead('/vm'), undefined);
      assert.notEqual((await xs(sock, 'xenstore-rm', '/no/such/parent')).code, 0);
      // A directory too large for one reply: libxenstore falls back to DIRECTORY_PART.
      const names = Array.from({ length: 300 }, (_, i) => `a-rather-long-child-name-${String(i).padStart(4, '0')}`);
      await Promise.all(names.map((n) => f.dom0.mkdir(`/big/${n}`)));
      const list = await xs(sock, 'xenstore-list', '/big');
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.stdout.trimEnd().split('\n'), names);
      assert.equal(f.xsd.stats().transactions, 0, "the tools' transactions all ended");
    } finally {
      await f.close();
    }
  },
);

void test("a guest's xenstore-read is denied where Xen denies it", { skip: missing.length > 0 }, async () => {
  const f = await fixture();
  try {
    await f.dom0.write('/private', 'dom0 only');
    await f.dom0.mkdir('/local/domain/6');
    await f.dom0.setPerms('/local/domain/6', [{ domid: 6, access: 'n' }]);
    const gsock = await f.xsd.introduceDomain(6);
    const denied = await xs(gsock, 'xenstore-read', '/private');
    assert.notEqual(denied.code, 0);
    assert.equal((await xs(gsock, 'xenstore-write', 'data/x', 'mine')).code, 0, 'relative path into its home');
    assert.equal(await f.dom0.read('/local/domain/6/data/x'), 'mine');
  } finally {
    await f.close();
  }
});

void test('xenstore-watch sees our events', { skip: missing.length > 0 }, async () => {
  const f = await fixture();
  const child = spawn('/usr/bin/xenstore-watch', ['-n', '4', '/watched'], {
    env: { ...process.env, XENSTORED_PATH: f.xsd.socketPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const lines = new EventLog();
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      buf += s;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) lines.push(l);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await lines.until(1); // registered: its first event is the watch path itself
    await f.dom0.write('/watched/a', '1');
    await f.dom0.write('/elsewhere', '1');
    await f.dom0.write('/watched/b/c', '2');
    await f.dom0.rm('/watched');
    assert.deepEqual(await lines.until(4), ['/watched', '/watched/a', '/watched/b/c', '/watched']);
    assert.equal(await exited, 0);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await f.close();
  }
});

void test(
  '`vdispld sim xenstored --socket PATH` serves the tools standalone and cleans up on SIGTERM',
  { skip: missing.length > 0 },
  async () => {
    const { mkdtempSync, rmSync, readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'vdispld-xs-cli-'));
    const sock = join(dir, 'socket');
    const main = new URL('../../src/main.ts', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', main, 'sim', 'xenstored', '--socket', sock, '--introduce', '3'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (s: string) => {
          out += s;
          if (out.includes('listening')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}`)));
      });
      assert.match(out, new RegExp(`dom3: ${sock}\\.dom3`));
      assert.equal((await xs(sock, 'xenstore-write', '/cli/x', 'standalone')).code, 0);
      assert.equal((await xs(sock, 'xenstore-read', '/cli/x')).stdout, 'standalone\n');
      assert.notEqual((await xs(`${sock}.dom3`, 'xenstore-read', '/cli/x')).code, 0, "dom3 may not read dom0's node");
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.deepEqual(readdirSync(dir), [], 'sockets removed');
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
