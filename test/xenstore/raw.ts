// A bare wire-level connection for tests that send what our client never would.
import { createConnection, type Socket } from 'node:net';
import { FrameDecoder, encodeMessage, joinStrings, splitStrings, type XsMessage } from '../../src/xenstore/wire.js';

export class RawConnection {
  private readonly decoder = new FrameDecoder();
  private readonly frames: XsMessage[] = [];
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.frames.push(...this.decoder.push(c));
      this.wake?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on('error', () => undefined);
  }

  static connect(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  sendBytes(b: Uint8Array): void {
    this.sock.write(b);
  }

  send(type: number, args: string[], reqId = 1, txId = 0): void {
    this.sock.write(encodeMessage(type, reqId, txId, joinStrings(args)));
  }

  /** The next frame, or undefined once the peer hung up. Bounded by `ms`. */
  async next(ms = 5000): Promise<XsMessage | undefined> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0 && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.frames.shift();
  }

  /** Sends one request and returns the reply's type and strings. */
  async call(type: number, args: string[], txId = 0): Promise<{ type: number; strings: string[] }> {
    this.send(type, args, 77, txId);
    const m = await this.next();
    if (m === undefined) throw new Error('connection closed');
    return { type: m.type, strings: splitStrings(m.payload) ?? [m.payload.toString()] };
  }

  close(): void {
    this.sock.destroy();
  }
}
