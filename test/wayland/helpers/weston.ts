// A real compositor for the Wayland output's tests: Debian's Weston with its headless backend and
// the pixman renderer (the headless backend draws nothing without a renderer, and its screenshots
// then never complete), in a private 0700 XDG_RUNTIME_DIR. `--debug` allows weston-screenshooter,
// which writes a PNG of the whole output: what a user would see.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng } from '../../../src/drm/headless/snapshot.js';
import { waitFor } from '../../backend/helpers/test-frontend.js';

export interface WestonOptions {
  readonly width?: number;
  readonly height?: number;
  /** desktop-shell.so (default) or kiosk-shell.so (each window centred full screen, the newest on top). */
  readonly shell?: string;
  /**
   * Weston's X11 backend in this X display (e.g. an Xvfb) instead of the headless one: it has a seat,
   * whose keyboard and pointer are the X server's (the headless backend has none).
   */
  readonly x11Display?: string;
}

export interface Weston {
  readonly runtimeDir: string;
  readonly socket: string;
  /** Environment for a client of this compositor. */
  readonly env: NodeJS.ProcessEnv;
  screenshot(): Promise<{ width: number; height: number; rgba: Uint8Array }>;
  /** Stops the compositor (SIGTERM) and waits for it; the runtime directory stays for a restart. */
  stop(): Promise<void>;
  /** Starts it again on the same socket. */
  start(): Promise<void>;
  /** stop() and the runtime directory removed. */
  close(): Promise<void>;
}

export function westonAvailable(): boolean {
  return (
    spawnSync('weston', ['--version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('which', ['weston-screenshooter'], { stdio: 'ignore' }).status === 0
  );
}

let counter = 0;

export async function startWeston(opts: WestonOptions = {}): Promise<Weston> {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'vdispld-wl-'));
  chmodSync(runtimeDir, 0o700);
  const socket = `vdispld-test-${process.pid}-${counter++}`;
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir, WAYLAND_DISPLAY: socket };
  let child: ChildProcess | undefined;
  let closed: Promise<void> = Promise.resolve();
  let log = '';
  const start = async (): Promise<void> => {
    log = '';
    child = spawn(
      'weston',
      [
        opts.x11Display !== undefined ? '--backend=x11-backend.so' : '--backend=headless-backend.so',
        '--use-pixman',
        `--socket=${socket}`,
        `--width=${opts.width ?? 640}`,
        `--height=${opts.height ?? 480}`,
        `--shell=${opts.shell ?? 'desktop-shell.so'}`,
        '--no-config',
        '--debug',
        '--idle-time=0',
      ],
      {
        env: { ...env, WAYLAND_DISPLAY: '', ...(opts.x11Display !== undefined ? { DISPLAY: opts.x11Display } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const c = child;
    // 'close', not 'exit': only then are its stdout and stderr pipes closed on our side too.
    closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor(
      'weston listening',
      () => {
        if (c.exitCode !== null) throw new Error(`weston exited with ${c.exitCode}: ${log}`);
        return existsSync(join(runtimeDir, socket)) && /launching|kiosk|shell/i.test(log);
      },
      20_000,
    );
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await closed;
  };
  await start();
  return {
    runtimeDir,
    socket,
    env,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
    screenshot: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vdispld-shot-'));
      try {
        const shot = spawn('weston-screenshooter', [], { cwd: dir, env, stdio: 'ignore' });
        const code = await new Promise<number | null>((resolve) => shot.once('exit', resolve));
        if (code !== 0) throw new Error(`weston-screenshooter exited with ${code}`);
        const file = readdirSync(dir).find((f) => f.endsWith('.png'));
        if (!file) throw new Error('weston-screenshooter wrote no PNG');
        return decodePng(readFileSync(join(dir, file)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Where `expected` (w x h RGBA) appears pixel for pixel in `shot`, or undefined. */
export function locate(
  shot: { width: number; height: number; rgba: Uint8Array },
  expected: { width: number; height: number; rgba: Uint8Array },
): { x: number; y: number } | undefined {
  const { width: W, height: H } = shot;
  const { width: w, height: h } = expected;
  for (let y = 0; y + h <= H; y++) {
    for (let x = 0; x + w <= W; x++) {
      if (regionEquals(shot, expected, x, y, 1)) {
        if (regionEquals(shot, expected, x, y, h)) return { x, y };
      }
    }
  }
  return undefined;
}

function regionEquals(
  shot: { width: number; rgba: Uint8Array },
  expected: { width: number; rgba: Uint8Array },
  x: number,
  y: number,
  rows: number,
): boolean {
  const w = expected.width;
  for (let r = 0; r < rows; r++) {
    const s = ((y + r) * shot.width + x) * 4;
    const e = r * w * 4;
    for (let i = 0; i < w * 4; i += 4) {
      if (
        shot.rgba[s + i] !== expected.rgba[e + i] ||
        shot.rgba[s + i + 1] !== expected.rgba[e + i + 1] ||
        shot.rgba[s + i + 2] !== expected.rgba[e + i + 2]
      )
        return false;
    }
  }
  return true;
}
