// Runs the documented command lines against vdispld as it ships, in a private mount namespace
// (nothing reaches the host): a copy of this working tree is packed with `npm pack` (which builds
// dist/ as `prepare` says), the tarball is installed with the documented `npm install -g` over an
// overlay of npm's global prefix, the unit is installed where the docs put it, and then, in a
// private network namespace too (so the documented ports 8080 and 9464 are free), every scenario
// runs twice: against the bundle (`node dist/src/main.js` of the packed tree) and against the
// installed `vdispld`. One JSON line per result on stdout; the test asserts them.
//
//   unshare --mount --propagation private node --import tsx test/shipped/shipped-runner.ts WORKDIR
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import WebSocket from 'ws';
import { SimHost } from '../../src/sim/host.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ShippedResult {
  readonly scenario: string;
  readonly target: 'bundle' | 'installed' | 'package';
  readonly ok: boolean;
  readonly detail: string;
  readonly seconds: number;
  /**
   * The command lines the scenario ran, as a user would type them: the package's directory left
   * out, and a line run as `node dist/src/main.js ...` also as `vdispld ...` (what `bin` names).
   * The test matches the documented lines against these.
   */
  readonly ran: readonly string[];
}

/** The lines the scenario running now has run, and the path prefix of its package (left out). */
let recording: { packageDir: string | undefined; ran: string[] } | undefined;

function record(line: string): void {
  if (!recording) return;
  let l = line.replace(/\s+/g, ' ').trim();
  if (recording.packageDir) l = l.split(`${recording.packageDir}/`).join('');
  recording.ran.push(l);
  const asBin = l.replace(/(^|\s)node dist\/src\/main\.js(?=\s|$)/g, '$1vdispld');
  if (asBin !== l) recording.ran.push(asBin);
}

interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment every documented command runs with: no inherited VDISPLD_* settings. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VDISPLD_') && !k.startsWith('npm_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * One shell line as a user types it; stdin is not a socket (bash would read ~/.bashrc). Never
 * synchronous: the simulated host's xenstored and hypervisor run in this process.
 */
function sh(line: string, o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Ran> {
  record(line);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], { cwd: o.cwd, env: baseEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}

async function must(p: Promise<Ran>, what: string): Promise<Ran> {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what}: status ${r.status}\n${r.stderr.slice(-2000)}${r.stdout.slice(-1000)}`);
  return r;
}

function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

/** A long-running documented command, with its output collected. */
class Background {
  readonly child: ChildProcess;
  out = '';
  readonly exited: Promise<number | null>;
  constructor(line: string, o: { cwd?: string; env?: Record<string, string> } = {}) {
    record(line);
    this.child = spawn('bash', ['-c', `exec ${line}`], {
      cwd: o.cwd,
      env: baseEnv(o.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  async waitFor(re: RegExp, what: string, ms = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      check(
        this.child.exitCode === null,
        `${what}: the command exited (${this.child.exitCode}):\n${this.out.slice(-2000)}`,
      );
      check(Date.now() < deadline, `timed out waiting for ${what}:\n${this.out.slice(-2000)}`);
      await sleep(100);
    }
  }

  /** Stops it as the docs do (Ctrl-C or systemctl stop); resolves with its status. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    check(Date.now() < deadline, `timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

function pngSize(file: string): string {
  const img = PNG.sync.read(readFileSync(file));
  return `${img.width}x${img.height}`;
}

function firstBinaryFrame(url: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    const t = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no frame from ${url} in 60 s (a liveness bound: the machine may be loaded)`));
    }, 60_000);
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (!binary) return;
      clearTimeout(t);
      ws.close();
      resolve(data.length);
    });
    ws.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}

/** How a scenario reaches the program: `vdispld` as a shell word, and the package root it ships in. */
interface Target {
  readonly name: 'bundle' | 'installed';
  readonly vdispld: string;
  readonly packageDir: string;
}

type Scenario = (t: Target, work: string) => Promise<string>;

// --- the scenarios (test/shipped/documented.ts maps each documented line to one) -----------------

const SCENARIOS: Record<string, Scenario> = {
  async help(t) {
    await must(sh(`${t.vdispld} --help`), 'vdispld --help');
    const run = await must(sh(`${t.vdispld} run --help`), 'vdispld run --help');
    check(
      /--metrics/.test(run.stdout) && /VDISPLD_/.test(run.stdout),
      'run --help names the options and their variables',
    );
    // A reader that goes away: quiet, whatever the command.
    const piped = await sh(`${t.vdispld} demo --help | head -n 1 >/dev/null; echo "status \${PIPESTATUS[0]}" >&2`);
    check(/^status (0|141)\n$/.test(piped.stderr), `demo --help | head: quiet, got:\n${piped.stderr}`);
    return 'vdispld --help, run --help, demo --help | head';
  },

  async selfcheck(t) {
    const text = (await must(sh(`${t.vdispld} selfcheck`), 'vdispld selfcheck')).stdout;
    check(/native addon: ok/.test(text), `selfcheck: ${text}`);
    const json = JSON.parse(
      (await must(sh(`${t.vdispld} selfcheck --json`), 'vdispld selfcheck --json')).stdout,
    ) as Record<string, unknown>;
    check(typeof json === 'object' && json !== null, 'selfcheck --json is JSON');
    return 'native addon loads';
  },

  async outputs(t) {
    const r = await sh(`${t.vdispld} outputs`);
    if (!existsSync('/dev/dri')) {
      // The README: without /dev/dri it says so in one line.
      const lines = (r.stdout + r.stderr).trim().split('\n');
      check(
        lines.length === 1 && /\/dev\/dri/.test(lines[0]!),
        `outputs without /dev/dri: one line naming it, got:\n${r.stdout}${r.stderr}`,
      );
      return `no /dev/dri: "${lines[0]}"`;
    }
    await must(Promise.resolve(r), 'vdispld outputs');
    return r.stdout.split('\n')[0]!;
  },

  // `node dist/src/main.js demo --guests 2 --duration 10 --snapshots out/ --json`, in the package.
  async 'demo-json'(t, work) {
    const cwd = join(work, `demo-json-${t.name}`);
    mkdirSync(cwd, { recursive: true });
    const r = await must(
      sh(`node ${join(t.packageDir, 'dist/src/main.js')} demo --guests 2 --duration 10 --snapshots out/ --json`, {
        cwd,
        env: { XDG_RUNTIME_DIR: cwd },
        timeoutMs: 90_000,
      }),
      'demo --json',
    );
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      connectors: { flipEvents: number; errors: number; timeouts: number }[];
    };
    check(report.ok === true, `demo --json: ok ${String(report.ok)}`);
    check(report.connectors.length === 3, `3 connectors for 2 guests, got ${report.connectors.length}`);
    const pngs = readdirSync(join(cwd, 'out')).filter((f) => f.endsWith('.png'));
    check(pngs.length === 3, `3 snapshots in out/, got ${pngs.join(', ')}`);
    return `${report.connectors.map((c) => c.flipEvents).join('/')} flips, ${pngs.length} PNGs`;
  },

  // `vdispld demo --viewer 8080` (and `--metrics 9464`), `s`/`kill -USR1`, status on its socket, Ctrl-C.
  async 'demo-live'(t, work) {
    const cwd = join(work, `demo-live-${t.name}`);
    mkdirSync(cwd, { recursive: true });
    const demo = new Background(`${t.vdispld} demo --viewer 8080 --metrics 9464`, {
      cwd,
      env: { XDG_RUNTIME_DIR: cwd },
    });
    try {
      const sock = (await demo.waitFor(/vdispld status --socket (\S+)\)/, 'the control socket line'))[1]!;
      await demo.waitFor(/viewer http:\/\/127\.0\.0\.1:8080\//, 'the viewer line');
      await demo.waitFor(/^dom2 main/m, 'the live lines');
      const page = await (await fetch('http://127.0.0.1:8080/')).text();
      check(/<canvas|vdispld viewer/.test(page), 'the viewer page');
      const bytes = await firstBinaryFrame('ws://127.0.0.1:8080/ws', 'http://127.0.0.1:8080');
      // Headless outputs read the pages in place: two guest framebuffers and one be-alloc, all `mapped`.
      const metrics = await until('PG_FLIPs and three mapped framebuffers in the metrics', async () => {
        const text = await (await fetch('http://127.0.0.1:9464/metrics')).text();
        return /^vdispld_requests_total\{op="PG_FLIP",result="ok"\} [1-9]/m.test(text) &&
          /^vdispld_shown_framebuffers\{path="mapped",buffer="guest"\} 2$/m.test(text) &&
          /^vdispld_shown_framebuffers\{path="mapped",buffer="be-alloc"\} 1$/m.test(text)
          ? text
          : undefined;
      });
      check(
        !/^vdispld_shown_framebuffers\{path="(dma-buf|copied)",[^}]*\} [1-9]/m.test(metrics),
        `demo --metrics 9464: nothing dma-buf or copied on headless outputs:\n${metrics}`,
      );
      const status = (await must(sh(`${t.vdispld} status --socket ${sock}`), 'vdispld status on the demo')).stdout;
      check(/dom1 device 0: connected/.test(status), `status on the demo:\n${status}`);
      // Headless outputs read the guest's mapped pages in place: never reported as zero-copy scanout.
      check(
        /\bmapped\b/.test(status) && !/zero-copy/.test(status),
        `status names the headless path \`mapped\`:\n${status}`,
      );
      await must(sh(`kill -USR1 ${demo.child.pid}`), 'kill -USR1');
      await demo.waitFor(/wrote 3 snapshot\(s\)/, 'the snapshots');
      const pngs = readdirSync(join(cwd, 'vdispld-snapshots')).filter((f) => f.endsWith('.png'));
      check(pngs.length === 3, `3 PNGs in ./vdispld-snapshots, got ${pngs.join(', ')}`);
      // Ctrl-C stops everything; the status is 0 only if no guest saw an error or a timeout,
      // which a flip in flight on a loaded host may be (the README's rule, not this test's).
      const code = await demo.stop('SIGINT');
      check(
        code !== null && code <= 1 && /interrupted; stopped cleanly/.test(demo.out),
        `Ctrl-C: status ${code}:\n${demo.out.slice(-2000)}`,
      );
      return `viewer frame ${bytes} B, metrics, status, ${pngs.length} snapshots, Ctrl-C ${code}`;
    } finally {
      await demo.stop('SIGKILL');
    }
  },

  // `vdispld demo --compose --viewer 8080`: every guest connector composed on one output, screen0.
  async 'demo-compose'(t, work) {
    const cwd = join(work, `demo-compose-${t.name}`);
    mkdirSync(cwd, { recursive: true });
    const demo = new Background(`${t.vdispld} demo --compose --viewer 8080`, { cwd, env: { XDG_RUNTIME_DIR: cwd } });
    try {
      const sock = (await demo.waitFor(/vdispld status --socket (\S+)\)/, 'the control socket line'))[1]!;
      await demo.waitFor(/viewer http:\/\/127\.0\.0\.1:8080\//, 'the viewer line');
      check((await fetch('http://127.0.0.1:8080/')).ok, 'the viewer page');
      const bytes = await firstBinaryFrame('ws://127.0.0.1:8080/ws', 'http://127.0.0.1:8080');
      // The three demo connectors on screen0, each copied into the composed picture.
      const status = await until('all three connectors composed on screen0', async () => {
        const s = (await sh(`${t.vdispld} status --socket ${sock}`)).stdout;
        return /layout on screen0: 3 of 3 guest connectors/.test(s) &&
          (s.match(/screen0\s+\d+x\d+\s+copied\s/g) ?? []).length === 3
          ? s
          : undefined;
      });
      const code = await demo.stop('SIGINT');
      check(code !== null && code <= 1, `Ctrl-C: status ${code}:\n${demo.out.slice(-2000)}`);
      return `${/layout on screen0[^\n]*/.exec(status)![0].slice(0, 60)}; viewer frame ${bytes} B`;
    } finally {
      await demo.stop('SIGKILL');
    }
  },

  // `vdispld run` on a simulated host, with what operators point at it: status, snapshot, metrics,
  // the viewer, the XenStore subtree through Debian's xenstore-utils.
  async daemon(t, work) {
    const dir = join(work, `daemon-${t.name}`);
    mkdirSync(dir, { recursive: true });
    const host = await SimHost.start({});
    const daemon = new Background(
      `${t.vdispld} run --platform sim --sim-dir ${host.dir} --xenstore ${host.xenstoredPath} --output headless --metrics 9464 --viewer 8080`,
    );
    const xs = (line: string): Promise<Ran> => must(sh(line, { env: { XENSTORED_PATH: host.xenstoredPath } }), line);
    try {
      await daemon.waitFor(/watching for vdispl devices/, 'the daemon');
      await host.createDomain({ vdispl: ['connectors=id0:640x480;id1:800x600'] });
      const status = await until('dom1 connected in `vdispld status`', async () => {
        const s = (await sh(`${t.vdispld} status`)).stdout;
        return /dom1 device 0: connected/.test(s) ? s : undefined;
      });
      type Status = {
        devices: { domid: number; state: string }[];
        config?: Record<string, { value: unknown; origin: string }>;
      };
      const json = async (): Promise<Status> =>
        JSON.parse((await must(sh(`${t.vdispld} status --json`), 'vdispld status --json')).stdout) as Status;
      check(
        (await json()).devices.some((d) => d.domid === 1 && d.state === 'connected'),
        'status --json: dom1 connected',
      );
      const png = join(dir, 'file.png');
      await until('a snapshot of 1/0/0', async () =>
        (await sh(`${t.vdispld} snapshot 1/0/0 -o file.png`, { cwd: dir })).status === 0 ? true : undefined,
      );
      check(pngSize(png) === '640x480', `snapshot 1/0/0: ${pngSize(png)}`);
      const meta = JSON.parse(
        (await must(sh(`${t.vdispld} snapshot 1/0/1 -o file.png --json`, { cwd: dir }), 'snapshot --json')).stdout,
      ) as { width: number };
      check(meta.width === 800 && pngSize(png) === '800x600', `snapshot 1/0/1 --json: ${JSON.stringify(meta)}`);
      const metrics = await (await fetch('http://127.0.0.1:9464/metrics')).text();
      check(/^# TYPE vdispld_requests_total counter$/m.test(metrics), 'run --metrics 9464 serves the registry');
      check((await fetch('http://127.0.0.1:8080/')).ok, 'run --viewer 8080 serves the page');
      // The XenStore subtree, live (docs/OPERATIONS.md), with Debian's tools.
      await xs('xenstore-write /local/domain/0/vdispld/connectors/vm1/id0 HDMI-A-1');
      await xs('xenstore-write /local/domain/0/vdispld/quotas/pages 20000');
      await until('the subtree in status --json', async () => {
        const c = (await json()).config ?? {};
        const live = c['connectors.vm1/id0']?.value === 'HDMI-A-1' && c['connectors.vm1/id0'].origin === 'xenstore';
        return live && String(c['quotas.pages']?.value) === '20000' && c['quotas.pages']?.origin === 'xenstore'
          ? true
          : undefined;
      });
      await xs('xenstore-rm    /local/domain/0/vdispld/connectors/vm1/id0');
      await until('connectors.vm1/id0 gone from status --json', async () =>
        (await json()).config?.['connectors.vm1/id0'] === undefined ? true : undefined,
      );
      const code = await daemon.stop('SIGTERM');
      check(code === 0, `SIGTERM: status ${code}:\n${daemon.out.slice(-2000)}`);
      return `status "${status.split('\n')[0]}", snapshots, metrics, viewer, xenstore-write/rm live`;
    } finally {
      await daemon.stop('SIGKILL');
      await host.close();
    }
  },

  // `vdispld sim xenstored --socket /tmp/xs.sock --introduce N` and `XENSTORED_PATH=/tmp/xs.sock xenstore-ls`.
  async 'sim-xenstored'(t, work) {
    const sock = join(work, `xs-${t.name}.sock`);
    const xsd = new Background(`${t.vdispld} sim xenstored --socket ${sock} --introduce 3`);
    try {
      await xsd.waitFor(/xenstored: listening on/, 'the listening line');
      await must(sh('xenstore-write /doc-check yes', { env: { XENSTORED_PATH: sock } }), 'xenstore-write');
      const ls = await must(sh(`XENSTORED_PATH=${sock} xenstore-ls`), 'xenstore-ls');
      check(/^doc-check = "yes"$/m.test(ls.stdout), `xenstore-ls:\n${ls.stdout}`);
      check(existsSync(`${sock}.dom3`), 'the introduced domain has its socket');
      const code = await xsd.stop('SIGTERM');
      check(code === 0, `SIGTERM: status ${code}`);
      return 'xenstore-ls against it; dom3 socket';
    } finally {
      await xsd.stop('SIGKILL');
    }
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);

// --- the package ---------------------------------------------------------------------------------

/** A copy of this working tree as a clone plus local changes has it (git's tracked and new files). */
async function copyTree(dest: string): Promise<void> {
  const files = (
    await must(sh('git ls-files -z --cached --others --exclude-standard', { cwd: REPO }), 'git ls-files')
  ).stdout
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const from = join(REPO, f);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(from, join(dest, f));
  }
  // prepare builds with the devDependencies (tsc, esbuild): this checkout's, as `npm ci` left them.
  symlinkSync(join(REPO, 'node_modules'), join(dest, 'node_modules'));
}

/** The bundle target runs from the packed tree with this checkout's addon (a tarball builds its own). */
function linkAddon(tree: string): void {
  symlinkSync(join(REPO, 'build'), join(tree, 'build'));
}

function emit(r: ShippedResult): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function timed(
  scenario: string,
  target: ShippedResult['target'],
  f: () => Promise<string>,
  packageDir?: string,
): Promise<boolean> {
  const t0 = Date.now();
  const rec = { packageDir, ran: [] as string[] };
  recording = rec;
  try {
    const detail = await f();
    emit({ scenario, target, ok: true, detail, seconds: (Date.now() - t0) / 1000, ran: rec.ran });
    return true;
  } catch (err) {
    emit({
      scenario,
      target,
      ok: false,
      detail: err instanceof Error ? err.message : String(err),
      seconds: (Date.now() - t0) / 1000,
      ran: rec.ran,
    });
    return false;
  } finally {
    recording = undefined;
  }
}

/**
 * Installed packages by tarball: the overlay layer `npm install -g` wrote over npm's prefix, kept
 * under the tarball's SHA-256 (npm pack writes the same bytes for the same files) with node's and
 * npm's versions. The same tarball installs the same way; any change to what ships (a file in
 * dist/, binding.gyp, the native sources, package.json) is a new tarball and a real install. The
 * newest three are kept. `VDISPLD_SHIPPED_CACHE=off` installs every time.
 */
const CACHE = process.env['VDISPLD_SHIPPED_CACHE'] ?? join(REPO, '.shipped-cache');
const CACHE_KEEP = 3;

function pruneCache(): void {
  const entries = readdirSync(CACHE)
    .map((n) => ({ n, t: statSync(join(CACHE, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const e of entries.slice(CACHE_KEEP)) rmSync(join(CACHE, e.n), { recursive: true, force: true });
}

/** Phase 1, in the mount namespace with the network: pack, install, the unit. */
async function install(work: string): Promise<void> {
  const tree = join(work, 'checkout');
  const prefix = (await must(sh('npm prefix -g'), 'npm prefix -g')).stdout.trim();
  const overlay = (dir: string, name: string, lower = dir): Promise<Ran> => {
    for (const d of ['up', 'work']) mkdirSync(join(work, `${name}-${d}`), { recursive: true });
    return must(
      sh(
        `mount -t overlay overlay -o lowerdir=${lower},upperdir=${join(work, `${name}-up`)},workdir=${join(work, `${name}-work`)} ${dir}`,
      ),
      `overlay on ${dir}`,
    );
  };
  // The unit directory becomes a private, writable layer; npm's prefix too, below.
  await overlay('/etc', 'etc');
  await must(sh('mkdir -p /etc/systemd/system'), 'the unit directory');
  const ok = await timed(
    'pack-install',
    'package',
    async () => {
      await copyTree(tree);
      // README: `npm pack && npm install -g ./vdispld-*.tgz`, as typed, in the checkout.
      await must(sh('npm pack', { cwd: tree, timeoutMs: 600_000 }), 'npm pack');
      const tgz = readdirSync(tree).find((f) => /^vdispld-.*\.tgz$/.test(f))!;
      const versions = `${process.version} npm ${(await must(sh('npm --version'), 'npm --version')).stdout.trim()} ${process.arch}`;
      const key = createHash('sha256')
        .update(readFileSync(join(tree, tgz)))
        .update(versions)
        .digest('hex')
        .slice(0, 32);
      const layer = join(CACHE, key);
      let how: string;
      if (CACHE !== 'off' && existsSync(join(layer, 'done'))) {
        await overlay(prefix, 'prefix', `${join(layer, 'usr')}:${prefix}`);
        // What `npm install -g` wrote for these very bytes: the documented line, run once per tarball.
        record('npm install -g ./vdispld-*.tgz');
        how = `installed from the layer of this same tarball's install (${readFileSync(join(layer, 'done'), 'utf8').trim()})`;
      } else {
        await overlay(prefix, 'prefix');
        const t0 = Date.now();
        // The registry answers from npm's cache where it can; JOBS lets node-gyp use every core.
        await must(
          sh('npm install -g ./vdispld-*.tgz', {
            cwd: tree,
            env: { npm_config_prefer_offline: 'true', JOBS: 'max' },
            timeoutMs: 900_000,
          }),
          'npm install -g',
        );
        how = `npm install -g took ${((Date.now() - t0) / 1000).toFixed(0)} s`;
        if (CACHE !== 'off') {
          mkdirSync(CACHE, { recursive: true });
          const tmp = join(CACHE, `${key}.tmp`);
          rmSync(tmp, { recursive: true, force: true });
          mkdirSync(tmp);
          await must(sh(`cp -a ${join(work, 'prefix-up')} ${join(tmp, 'usr')}`), 'keep the installed layer');
          await must(sh(`echo '${how} on ${new Date().toISOString()}' > ${join(tmp, 'done')}`), 'mark the layer');
          rmSync(layer, { recursive: true, force: true });
          renameSync(tmp, layer);
          pruneCache();
        }
      }
      const listing = (await must(sh(`tar -tzf ${tgz}`, { cwd: tree }), 'tar -t')).stdout.split('\n').filter(Boolean);
      for (const banned of [
        'package/test/',
        'package/bench/',
        'package/fuzz/',
        'package/.ci/',
        'package/src/',
        '.map',
      ]) {
        check(
          !listing.some((f) => f.includes(banned)),
          `the tarball holds ${banned}: ${listing
            .filter((f) => f.includes(banned))
            .slice(0, 3)
            .join(', ')}`,
        );
      }
      for (const needed of [
        'package/dist/src/main.js',
        'package/binding.gyp',
        'package/native/src/addon.cc',
        'package/systemd/vdispld.service',
        'package/README.md',
        'package/LICENSE',
        'package/docs/OPERATIONS.md',
      ]) {
        check(listing.includes(needed), `the tarball lacks ${needed}`);
      }
      const installed = join(prefix, 'lib', 'node_modules', 'vdispld');
      check(existsSync(join(installed, 'build', 'Release', 'vdispl_native.node')), 'the install built the addon');
      // The bundled libraries are build inputs (devDependencies): the scenarios run without them.
      for (const dev of ['typescript', 'prom-client', 'pngjs', 'ws'])
        check(!existsSync(join(installed, 'node_modules', dev)), `no devDependencies installed: ${dev} is`);
      // docs/OPERATIONS.md: the unit, where systemd finds it, starting the program npm installed.
      await must(sh('install -m 0644 systemd/vdispld.service /etc/systemd/system/', { cwd: tree }), 'install the unit');
      const verify = await sh('systemd-analyze verify /etc/systemd/system/vdispld.service');
      check(
        verify.status === 0 && !/not executable|No such file/.test(verify.stderr),
        `systemd-analyze verify:\n${verify.stderr}`,
      );
      linkAddon(tree);
      const size = readFileSync(join(tree, tgz)).length;
      return `${tgz} ${(size / 1024).toFixed(0)} KiB, ${listing.length} files; ${how}; in ${prefix}; unit verified`;
    },
    tree,
  );
  if (!ok) return;
  // Phase 2 in a network namespace of its own, inside this mount namespace.
  const r = spawnSync(
    'unshare',
    ['--net', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--checks', work],
    {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 900_000,
    },
  );
  if (r.status !== 0)
    emit({
      scenario: 'checks',
      target: 'package',
      ok: false,
      detail: `the checks phase exited ${r.status ?? r.signal}`,
      seconds: 0,
      ran: [],
    });
}

/** Phase 2: every scenario against both targets, then `npm start` in the packed checkout. */
async function checks(work: string): Promise<void> {
  await must(sh('ip link set lo up'), 'loopback up');
  // The daemon's default control socket, /run/vdispld/control.sock, private too (and no network
  // from here on, so no resolver under /run is needed).
  await must(sh('mount -t tmpfs tmpfs /run'), 'a private /run');
  const tree = join(work, 'checkout');
  const prefix = (await must(sh('npm prefix -g'), 'npm prefix -g')).stdout.trim();
  const targets: Target[] = [
    { name: 'bundle', vdispld: `node ${join(tree, 'dist/src/main.js')}`, packageDir: tree },
    { name: 'installed', vdispld: 'vdispld', packageDir: join(prefix, 'lib', 'node_modules', 'vdispld') },
  ];
  check(
    (await must(sh('command -v vdispld'), 'vdispld on PATH')).stdout.trim() === join(prefix, 'bin', 'vdispld'),
    'vdispld on PATH is the installed one',
  );
  for (const t of targets)
    for (const [name, f] of Object.entries(SCENARIOS)) await timed(name, t.name, () => f(t, work), t.packageDir);
  // `npm start` in the checkout (the README's first command, after setup): the demo, ended by its
  // duration from the environment as every option can be.
  await timed('npm-start', 'bundle', async () => {
    const r = await must(
      sh('npm start', { cwd: tree, env: { VDISPLD_DURATION: '3', XDG_RUNTIME_DIR: work }, timeoutMs: 60_000 }),
      'npm start',
    );
    check(
      /duration reached; stopped cleanly/.test(r.stdout + r.stderr),
      `npm start:\n${(r.stdout + r.stderr).slice(-1500)}`,
    );
    return 'the demo ran and stopped cleanly';
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [mode, work] = process.argv[2] === '--checks' ? ['checks', process.argv[3]!] : ['install', process.argv[2]!];
  (mode === 'checks' ? checks(work) : install(work)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`shipped-runner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
