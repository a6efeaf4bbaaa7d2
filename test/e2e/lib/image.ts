// The machine image: built once by image/build.sh from Debian packages, cached under a key made of
// every input (the scripts that go into it, the package list, the suite and mirror, the kernel
// ABI that apt currently resolves), so a change to any of them builds a new image and nothing else does.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const IMAGE_SRC = join(E2E_DIR, 'image');
export const REPO_DIR = dirname(dirname(E2E_DIR));

/** What the dom0 root file system needs beyond debootstrap's minbase. */
const ROOTFS_PKGS = [
  'xen-utils-4.17',
  'xenstore-utils',
  'libdrm-tests',
  'kmod',
  'procps',
  'busybox',
  'socat',
  'strace',
];
const SUITE = 'bookworm';
const MIRROR = process.env.VDISPLD_E2E_MIRROR ?? 'http://deb.debian.org/debian';

/** Host tools the build and the run need, by Debian package(s). */
const HOST_TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  debootstrap: 'debootstrap',
  busybox: 'busybox-static',
  cpio: 'cpio',
  xz: 'xz-utils',
  'mkfs.ext4': 'e2fsprogs',
  modprobe: 'kmod',
  // e2e-input, linked static: libc.a is in libc6-dev, which gcc only recommends
  gcc: 'gcc libc6-dev',
};

export interface Image {
  key: string;
  dir: string;
  xen: string;
  vmlinuz: string;
  dom0Initrd: string;
  dom0Disk: string;
  manifest: string;
}

export function cacheDir(): string {
  return process.env.VDISPLD_E2E_CACHE ?? join(REPO_DIR, '.e2e-cache');
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs missing host tools with apt (as root), or says exactly which command to run. */
export function ensureHostTools(log: (s: string) => void): void {
  const missing = [
    ...new Set(
      Object.entries(HOST_TOOLS)
        .filter(([cmd]) => !which(cmd))
        .flatMap(([, pkgs]) => pkgs.split(' ')),
    ),
  ];
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`e2e needs Debian packages: run as root: ${cmd}`);
  log(`installing host packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) throw new Error(`apt-get failed: ${cmd}`);
}

/** The Debian kernel ABI that linux-image-amd64 points at now (e.g. 6.1.0-56-amd64). */
function kernelAbi(): string {
  if (process.env.VDISPLD_E2E_KVER) return process.env.VDISPLD_E2E_KVER;
  const r = spawnSync('apt-cache', ['depends', 'linux-image-amd64'], { encoding: 'utf8' });
  const m = /Depends: linux-image-(\d+\.\d+\.\d+-\d+-amd64)\b/.exec(r.stdout ?? '');
  if (!m) throw new Error('cannot resolve linux-image-amd64 with apt-cache; run `apt-get update` first');
  return m[1]!;
}

export function sha(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function imageFiles(dir: string, key: string): Image {
  return {
    key,
    dir,
    xen: join(dir, 'xen'),
    vmlinuz: join(dir, 'vmlinuz'),
    dom0Initrd: join(dir, 'dom0-initrd.cpio.gz'),
    dom0Disk: join(dir, 'dom0.ext4'),
    manifest: readFileSync(join(dir, 'manifest.txt'), 'utf8'),
  };
}

/** A lock file holding the builder's pid; a stale one (dead pid) is taken over. */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  for (let waited = 0; ; waited += 1) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const pid = Number(readFileSync(path, 'utf8').trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        /* dead owner */
      }
      if (!alive) rmSync(path, { force: true });
      else if (waited > 1800) throw new Error(`image build lock ${path} held by pid ${pid} for 30 min`);
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

export interface BuildReport {
  image: Image;
  built: boolean;
  seconds: number;
}

export async function ensureImage(opts: { rebuild: boolean; log: (s: string) => void }): Promise<BuildReport> {
  const cache = cacheDir();
  mkdirSync(cache, { recursive: true });
  const kver = kernelAbi();
  const pkgs = ROOTFS_PKGS.join(',');
  const rootfsKey = sha([SUITE, MIRROR, pkgs]);
  const scripts = readdirSync(IMAGE_SRC)
    .sort()
    .map((f) => `${f}\n${readFileSync(join(IMAGE_SRC, f), 'utf8')}`);
  const key = sha([rootfsKey, kver, ...scripts]);
  const dir = join(cache, `image-${key}`);
  const t0 = performance.now();
  return withLock(join(cache, 'build.lock'), async () => {
    if (!opts.rebuild && existsSync(join(dir, 'manifest.txt'))) {
      return { image: imageFiles(dir, key), built: false, seconds: 0 };
    }
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    opts.log(`building image ${key} (kernel ${kver}) in ${cache}; log: ${join(cache, 'build.log')}`);
    const env = {
      ...process.env,
      CACHE: cache,
      OUT: tmp,
      KVER: kver,
      SUITE,
      MIRROR,
      ROOTFS_PKGS: pkgs,
      ROOTFS_KEY: rootfsKey,
    };
    const code = await new Promise<number | null>((resolve) => {
      const out = openSync(join(cache, 'build.log'), 'w');
      const p = spawn('bash', [join(IMAGE_SRC, 'build.sh')], { env, stdio: ['ignore', out, out] });
      p.once('exit', (c) => {
        closeSync(out);
        resolve(c);
      });
    });
    if (code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      const tail = readFileSync(join(cache, 'build.log'), 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      throw new Error(`image build failed (exit ${code}); ${join(cache, 'build.log')} ends with:\n${tail}`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    // older images are dead weight (each ~350 MB); the shared pieces (debs, kernel, rootfs) stay
    for (const f of readdirSync(cache)) {
      if (f.startsWith('image-') && f !== `image-${key}`) rmSync(join(cache, f), { recursive: true, force: true });
    }
    return { image: imageFiles(dir, key), built: true, seconds: (performance.now() - t0) / 1000 };
  });
}

/**
 * The host's Node.js binary, copied into the cache once per version, so that dom0 can run it from a
 * read-only 9p export of that directory (Debian bookworm in dom0 has the same glibc and libstdc++).
 */
export function hostNodeDir(): string {
  const st = statSync(process.execPath);
  const dir = join(cacheDir(), `node-${process.version}-${st.size}`);
  const bin = join(dir, 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dirname(bin), { recursive: true });
    copyFileSync(process.execPath, `${bin}.tmp`);
    renameSync(`${bin}.tmp`, bin);
  }
  return dir;
}
