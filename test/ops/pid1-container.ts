// systemd as PID 1 in a throw-away container, for tests that need the real service manager and the
// real journald. The container's root is this machine's own root file system under a tmpfs overlay
// (systemd-nspawn --volatile=overlay), so nothing it writes reaches the host except through the
// binds a test asks for; it runs in a private mount namespace (unshare) because nspawn keeps state
// in /run/systemd/nspawn, which must be a tmpfs; and it boots only the target the test names.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const INIT = '/lib/systemd/systemd';

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface BootOptions {
  /** Container hostname (unique per test). */
  readonly name: string;
  /** The unit systemd starts instead of default.target (it must exist in the container). */
  readonly unit: string;
  /** Read-only files: container path → host path. */
  readonly files?: Readonly<Record<string, string>>;
  /** Host directories shared read-write at the same path. */
  readonly shared?: readonly string[];
  /** How long systemd may take to come up (ms). */
  readonly bootTimeoutMs?: number;
}

function nsenterArgs(leader: number, argv: readonly string[]): string[] {
  return ['-t', String(leader), '-m', '-p', '--', ...argv];
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function childOf(pid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (kids !== '') return Number(kids.split(/\s+/)[0]);
  } catch {
    /* fall back to scanning */
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

function isContainerInit(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^Name:\tsystemd$/m.test(status) && /^NSpid:.*\s1$/m.test(status);
  } catch {
    return false;
  }
}

/**
 * Why systemd cannot be booted here, or undefined when it can: not root, a missing tool, or the
 * kernel/sandbox refusing what nspawn needs (checked by running /bin/true in a container).
 */
export function pid1Unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts)';
  for (const [tool, pkg] of [
    ['/usr/bin/systemd-nspawn', 'systemd-container'],
    ['/usr/bin/unshare', 'util-linux'],
    ['/usr/bin/nsenter', 'util-linux'],
    [INIT, 'systemd'],
  ] as const) {
    if (!existsSync(tool)) return `${tool} missing (apt-get install ${pkg})`;
  }
  const root = mkdtempSync(join(tmpdir(), 'vdispld-pid1-probe-'));
  try {
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        'sh',
        '-c',
        `${setupScript(root)} && exec systemd-nspawn -q -D ${root} --volatile=overlay --register=no --keep-unit --link-journal=no /bin/true`,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    if (r.status !== 0)
      return `systemd-nspawn cannot start a container here: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1)}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return undefined;
}

/** Mounts (in the caller's private mount namespace) what nspawn needs; `root` becomes the host's root. */
function setupScript(root: string): string {
  return [
    'set -e',
    'mount --make-rprivate /',
    `mount --bind / ${root}`,
    // nspawn's own state directory must be a tmpfs (it refuses to clean up a disk file system).
    'mkdir -p /run/systemd/nspawn',
    'mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn',
  ].join(' && ');
}

export class Pid1Container {
  private stopped: Promise<void> | undefined;
  private consoleText = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly root: string,
    /** systemd's pid, as the host sees it. */
    readonly leader: number,
    private readonly exited: Promise<number | null>,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.consoleText = (this.consoleText + d.toString()).slice(-20_000)));
    proc.stderr?.on('data', (d: Buffer) => (this.consoleText = (this.consoleText + d.toString()).slice(-20_000)));
  }

  static async boot(opts: BootOptions): Promise<Pid1Container> {
    const root = mkdtempSync(join(tmpdir(), 'vdispld-pid1-root-'));
    const binds = [
      ...Object.entries(opts.files ?? {}).map(([inside, host]) => `--bind-ro=${host}:${inside}`),
      ...(opts.shared ?? []).map((d) => `--bind=${d}`),
    ];
    const nspawn = [
      'systemd-nspawn',
      '-q',
      '-D',
      root,
      '--volatile=overlay',
      '--register=no',
      '--keep-unit',
      '--link-journal=no',
      `--machine=${opts.name}`,
      '--console=pipe',
      ...binds,
      '--boot',
      '--',
      `--unit=${opts.unit}`,
    ];
    const quoted = nspawn.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const proc = spawn(
      'nice',
      ['-n', '15', 'unshare', '--mount', 'sh', '-c', `${setupScript(root)} && exec ${quoted}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + (opts.bootTimeoutMs ?? 60_000);
    let leader: number | undefined;
    // nice → unshare → sh all exec, so proc.pid is nspawn; systemd is its child, pid 1 inside.
    while (leader === undefined) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        await exited;
        rmSync(root, { recursive: true, force: true });
        throw new Error(`the container did not start: ${out.trim().slice(-2000) || `exit ${proc.exitCode}`}`);
      }
      await new Promise((r) => setTimeout(r, 100));
      const kid = proc.pid === undefined ? undefined : childOf(proc.pid);
      if (kid !== undefined && isContainerInit(kid)) leader = kid;
    }
    const c = new Pid1Container(proc, root, leader, exited);
    c.consoleText = out;
    // Up once the manager answers and the boot transaction is done.
    for (;;) {
      const r = await c.exec(['systemctl', 'is-system-running', '--wait'], 30_000);
      if (/^(running|degraded)$/m.test(r.stdout)) break;
      if (Date.now() > deadline) {
        await c.stop();
        throw new Error(`systemd did not finish booting: ${r.stdout.trim()} ${r.stderr.trim()}\n${c.console()}`);
      }
      await new Promise((r2) => setTimeout(r2, 250));
    }
    return c;
  }

  /** Runs a command inside the container (its mount and pid namespaces). */
  exec(argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return run('nsenter', nsenterArgs(this.leader, argv), timeoutMs);
  }

  /** `systemctl show UNIT` as a record. */
  async show(unit: string, props: readonly string[]): Promise<Record<string, string>> {
    const r = await this.exec(['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)]);
    return Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  console(): string {
    return this.consoleText;
  }

  /** Powers the container off (SIGTERM to nspawn), killing it if it hangs; removes its root. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.proc.exitCode === null) {
        this.proc.kill('SIGTERM');
        const r = await Promise.race([
          this.exited,
          new Promise<'hung'>((res) => setTimeout(() => res('hung'), 30_000)),
        ]);
        if (r === 'hung') {
          this.proc.kill('SIGKILL');
          await this.exited;
        }
      }
      rmSync(this.root, { recursive: true, force: true });
    })();
    return this.stopped;
  }
}
