// An X server of its own for a test (Xvfb, display number chosen by the server) and xdotool to move
// its pointer and press its keys: Weston's X11 backend turns those into wl_seat events, the only
// way on these machines to put real input through a compositor to a client.
import { spawn, spawnSync } from 'node:child_process';

export interface Xvfb {
  /** ":N" */
  readonly display: string;
  /** Runs xdotool with `args` against this display; throws with its stderr if it fails. */
  xdotool(...args: string[]): void;
  close(): Promise<void>;
}

export function xvfbAvailable(): boolean {
  return ['Xvfb', 'xdotool'].every((t) => spawnSync('which', [t], { stdio: 'ignore' }).status === 0);
}

export async function startXvfb(width: number, height: number): Promise<Xvfb> {
  // -displayfd: the server picks a free display and writes its number on fd 3 once it accepts clients.
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const starting = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb gave no display in 20 s: ${err}`)), 20_000);
    child.stdio[3]!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${out.trim()}`);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited with ${code}: ${err}`));
    });
  });
  // A server that never said its display is stopped here: nobody else holds it.
  const display = await starting.catch(async (err: unknown) => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await closed;
    throw err;
  });
  return {
    display,
    xdotool: (...args) => {
      const r = spawnSync('xdotool', args, { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`xdotool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    },
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}
