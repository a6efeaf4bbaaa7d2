// The machine's serial console (Xen and dom0 share COM1): a transcript with host timestamps, and
// waits on it. QEMU's chardev is a unix socket with wait=on, so QEMU does not run until we are
// connected and no early line is lost.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { connectUnix } from './unix.js';

/** Console output that means the machine is dead; waiting further is pointless. */
const FATAL = /Hardware Dom0 crashed|Kernel panic - not syncing|Panic on CPU \d+/;

export class ConsoleDied extends Error {}

export class SerialConsole {
  private text = '';
  private partial = '';
  private readonly waiters = new Set<() => void>();
  private ended = false;
  private closed = false;

  private constructor(
    private readonly sock: Socket,
    private readonly log: WriteStream,
    private readonly t0: number,
    private readonly echo: boolean,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('error', () => {
      /* 'close' follows; the transcript keeps what arrived */
    });
  }

  static async open(path: string, logPath: string, t0: number, echo: boolean): Promise<SerialConsole> {
    const sock = await connectUnix(path, 10_000, createConnection);
    return new SerialConsole(sock, createWriteStream(logPath), t0, echo);
  }

  /** Everything received so far, carriage returns removed. */
  get transcript(): string {
    return this.text;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Seconds since QEMU started, as stamped on every logged line. */
  now(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private onData(d: string): void {
    const s = d.replace(/\r/g, '');
    this.text += s;
    this.partial += s;
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = `[${this.now().toFixed(2).padStart(8)}] ${this.partial.slice(0, nl)}`;
      this.partial = this.partial.slice(nl + 1);
      this.log.write(line + '\n');
      if (this.echo) process.stdout.write(line + '\n');
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * Resolves with the first match of `re` in the transcript at or after offset `from`. Rejects on
   * timeout, on console output that means a crash, and when the console closes.
   */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const pattern = new RegExp(re.source, re.flags.replace('g', '') + 'g');
    const fatal = new RegExp(FATAL.source, 'g');
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        pattern.lastIndex = from;
        const m = pattern.exec(this.text);
        if (m) {
          done();
          resolve(m);
          return true;
        }
        fatal.lastIndex = from;
        const f = fatal.exec(this.text);
        if (f) {
          done();
          reject(new ConsoleDied(`machine crashed: console says "${f[0]}"`));
          return true;
        }
        if (this.ended) {
          done();
          reject(new ConsoleDied(`console closed while waiting for ${String(re)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(re)} on the console`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      if (!check()) this.waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.sock.destroy();
    if (this.partial) this.log.write(`[${this.now().toFixed(2).padStart(8)}] ${this.partial}\n`);
    return new Promise((resolve) => this.log.end(() => resolve()));
  }
}
