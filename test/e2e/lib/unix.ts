// Connecting to a unix socket that QEMU is about to create: retry until it exists or time runs out.
import type { Socket } from 'node:net';

export async function connectUnix(path: string, timeoutMs: number, connect: (path: string) => Socket): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', (e) => {
          s.destroy();
          reject(e);
        });
      });
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`cannot connect to ${path}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
