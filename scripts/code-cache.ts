// The third step of `npm run build` (scripts/bundle.ts): V8's code cache for the command line's
// bundle, dist/src/vdispld.cjs.cache, which the shipped entry (src/boot/main.ts) compiles the
// bundle from. It is made by what it is for: the built daemon started as the service starts it
// (`vdispld run`, no node flags) on a simulated host with no guests, stopped once it says READY=1,
// writing the cache of every function it compiled on the way at exit. A cache made after the top
// level only would leave most of the start-up's functions to be compiled at each start.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../src/native/addon.js';
import { SimHost } from '../src/sim/index.js';

/** Where the cache of `mainJs`'s bundle goes: beside it. */
export function codeCachePath(mainJs: string): string {
  return join(mainJs, '..', 'vdispld.cjs.cache');
}

/** `vdispld run`'s arguments for a headless daemon on the simulated `host`, its control socket at `controlSocket`. */
export function simRunArgs(host: SimHost, controlSocket: string): string[] {
  return [
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
    controlSocket,
  ];
}

/** Runs `mainJs` (the built entry) to READY=1 and back, leaving vdispld.cjs.cache beside it; returns its path. */
export async function writeCodeCache(mainJs: string, timeoutMs = 60_000): Promise<string> {
  const out = codeCachePath(mainJs);
  rmSync(out, { force: true });
  const host = await SimHost.start();
  const n = native();
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-code-cache-'));
  const notifyPath = join(dir, 'notify');
  const fd = n.bindNotifySocket(notifyPath);
  try {
    const child = spawn(process.execPath, [mainJs, ...simRunArgs(host, join(dir, 'control.sock'))], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NOTIFY_SOCKET: notifyPath, VDISPLD_CODE_CACHE_OUT: out },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // READY=1 by polling the datagram socket: this is a build step, a few ms late is nothing.
    const buf = new Uint8Array(4096);
    const deadline = Date.now() + timeoutMs;
    let ready = false;
    while (!ready && child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
      const len = n.readFd(fd, buf, 0, buf.length);
      if (len > 0 && /^READY=1$/m.test(Buffer.from(buf.subarray(0, len)).toString())) ready = true;
      else await new Promise((r) => setTimeout(r, 5));
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const [code, signal] = await exited;
    if (!ready) throw new Error(`the daemon did not say READY=1 (exit ${code ?? signal}): ${stderr.trim()}`);
    if (code !== 0 || !existsSync(out))
      throw new Error(`the daemon exited ${code ?? signal} without the cache: ${stderr.trim()}`);
    return out;
  } finally {
    n.closeDevice(fd);
    rmSync(dir, { recursive: true, force: true });
    await host.close();
  }
}
