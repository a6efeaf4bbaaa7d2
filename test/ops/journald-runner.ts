// A private systemd-journald for tests: started in its own mount namespace whose /run/systemd,
// /run/log and /var/log/journal are bind mounts of a temp dir, so it neither sees nor touches the
// host's journal, and its socket and files are reachable from the test by path. Needs root,
// unshare(1) and Debian's systemd; `available()` says whether this machine has them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, waitFor } from './helpers.js';

const JOURNALD = ['/usr/lib/systemd/systemd-journald', '/lib/systemd/systemd-journald'].find((p) => existsSync(p));

export function journaldAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (!JOURNALD) return 'no systemd-journald';
  if (spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status !== 0)
    return 'unshare --mount not permitted';
  if (spawnSync('journalctl', ['--version']).status !== 0) return 'no journalctl';
  return undefined;
}

export interface PrivateJournald {
  readonly socket: string;
  /** Entries matching journalctl `matches` (FIELD=value ...), as journalctl's JSON objects. */
  read(matches: string[]): Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Runs `command` (argv) in a private mount namespace whose /run/systemd/journal is a private
 * systemd-journald's, as a service under systemd would log; resolves with its exit status and a
 * reader of what the journal stored. The journald is stopped and its files removed by `close()`.
 */
export async function runUnderJournald(
  command: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string; read(matches: string[]): Record<string, unknown>[]; close(): void }> {
  const t = tempDir('journald-run');
  const run = join(t.dir, 'run');
  const log = join(t.dir, 'log');
  const varlog = join(t.dir, 'varlog');
  for (const d of [run, log, varlog]) mkdirSync(d);
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    `mount --bind ${run} /run/systemd`,
    'mkdir -p /run/log',
    `mount --bind ${log} /run/log`,
    `if [ -d /var/log/journal ]; then mount --bind ${varlog} /var/log/journal; fi`,
    `${JOURNALD} & J=$!`,
    'i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    'set +e',
    command.map(q).join(' '),
    'rc=$?',
    'kill $J; wait $J',
    'exit $rc',
  ].join('\n');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const dirs = (): string[] =>
    [join(log, 'journal'), varlog].flatMap((base) =>
      existsSync(base) ? readdirSync(base).map((m) => join(base, m)) : [],
    );
  return {
    code,
    output,
    read(matches) {
      const out: Record<string, unknown>[] = [];
      for (const d of dirs()) {
        const r = spawnSync('journalctl', ['-D', d, '-o', 'json', '--no-pager', ...matches], {
          encoding: 'utf8',
          timeout: 10000,
        });
        for (const line of r.stdout.split('\n')) if (line.trim()) out.push(JSON.parse(line) as Record<string, unknown>);
      }
      return out;
    },
    close: () => t.remove(),
  };
}

export async function startJournald(): Promise<PrivateJournald> {
  const t = tempDir('journald');
  const run = join(t.dir, 'run');
  const log = join(t.dir, 'log');
  const varlog = join(t.dir, 'varlog');
  for (const d of [run, log, varlog]) mkdirSync(d);
  const script = [
    'set -e',
    `mount --bind ${run} /run/systemd`,
    'mkdir -p /run/log',
    `mount --bind ${log} /run/log`,
    `if [ -d /var/log/journal ]; then mount --bind ${varlog} /var/log/journal; fi`,
    `exec ${JOURNALD}`,
  ].join('\n');
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const done = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const socket = join(run, 'journal', 'socket');
  try {
    await waitFor(() => existsSync(socket) || exited, 'journald socket', 10000);
    if (exited) throw new Error(`systemd-journald exited: ${stderr.trim()}`);
  } catch (err) {
    child.kill('SIGKILL');
    await done;
    t.remove();
    throw err;
  }
  const dirs = (): string[] =>
    [join(log, 'journal'), varlog]
      .flatMap((base) => (existsSync(base) ? readdirSync(base).map((m) => join(base, m)) : []))
      .filter((d) => existsSync(d));
  return {
    socket,
    read(matches) {
      const out: Record<string, unknown>[] = [];
      for (const d of dirs()) {
        const r = spawnSync('journalctl', ['-D', d, '-o', 'json', '--no-pager', ...matches], {
          encoding: 'utf8',
          timeout: 10000,
        });
        for (const line of r.stdout.split('\n')) if (line.trim()) out.push(JSON.parse(line) as Record<string, unknown>);
      }
      return out;
    },
    async close() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
      t.remove();
    },
  };
}
