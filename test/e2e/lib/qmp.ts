// A minimal QMP client (QEMU Machine Protocol: one JSON object per line). The harness only needs
// `screendump` and `quit`, and runs one command at a time.
import { createConnection, type Socket } from 'node:net';
import { connectUnix } from './unix.js';

type Reply = { return?: unknown; error?: { class: string; desc: string }; event?: string };

export class Qmp {
  private buf = '';
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private greeted: Promise<void>;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly sock: Socket) {
    let onGreeting: () => void = () => undefined;
    this.greeted = new Promise((r) => (onGreeting = r));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Reply & { QMP?: unknown };
        if (msg.QMP) onGreeting();
        else if (msg.event) continue;
        else this.settle(msg);
      }
    });
    sock.on('close', () => this.settle({ error: { class: 'Closed', desc: 'QMP connection closed' } }));
    sock.on('error', () => undefined);
  }

  static async open(path: string): Promise<Qmp> {
    const q = new Qmp(await connectUnix(path, 10_000, createConnection));
    await q.greeted;
    await q.execute('qmp_capabilities');
    return q;
  }

  private settle(msg: Reply): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    if (msg.error) p.reject(new Error(`QMP: ${msg.error.desc}`));
    else p.resolve(msg.return);
  }

  /** Runs one command after the previous one has answered. */
  execute(name: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        if (this.closed || this.sock.destroyed) return reject(new Error('QMP connection closed'));
        this.pending = { resolve, reject };
        this.sock.write(JSON.stringify(args ? { execute: name, arguments: args } : { execute: name }) + '\n');
      });
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.destroy();
  }
}
