// systemd's side of sd_notify for the benchmark: a datagram socket in a private directory that
// records when READY=1 arrives. Start-up is measured from spawn() to that instant, for vdispld
// and for the C floor alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { POLL_READABLE, type NativeFdPoller } from '../../src/native/fd.js';
import { removeOnExit } from './children.js';

export class NotifySocket {
  readonly path: string;
  private readonly dir: string;
  private readonly fd: number;
  private readonly poller: NativeFdPoller;
  private waiter: ((atNs: bigint) => void) | undefined;
  private early: bigint | undefined;
  private closed = false;
  private readonly forgetDir: () => void;

  constructor() {
    const n = native();
    this.dir = mkdtempSync(join(tmpdir(), 'vdispld-bench-notify-'));
    this.forgetDir = removeOnExit(this.dir);
    this.path = join(this.dir, 'notify');
    this.fd = n.bindNotifySocket(this.path);
    const buf = new Uint8Array(4096);
    this.poller = new n.FdPoller(this.fd, () => {
      const at = process.hrtime.bigint();
      for (;;) {
        const len = n.readFd(this.fd, buf, 0, buf.length);
        if (len <= 0) break;
        if (!/^READY=1$/m.test(Buffer.from(buf.subarray(0, len)).toString())) continue;
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(at);
        } else this.early ??= at;
      }
    });
    this.poller.start(POLL_READABLE);
    this.poller.unref();
  }

  /** The instant the next READY=1 arrives (or arrived since the last call); rejects after `timeoutMs`. */
  nextReady(timeoutMs: number): Promise<bigint> {
    if (this.early !== undefined) {
      const at = this.early;
      this.early = undefined;
      return Promise.resolve(at);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no READY=1 on ${this.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (at) => {
        clearTimeout(timer);
        resolve(at);
      };
    });
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.close();
    native().closeDevice(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetDir();
  }
}
