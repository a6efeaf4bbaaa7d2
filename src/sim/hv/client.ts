// A process's connection to the simulated hypervisor, acting for the domain whose socket it
// opened. Requests are matched to replies by sequence number; event-channel events arrive on
// the same socket — an fd libuv polls, so a process wakes up for them like for /dev/xen/evtchn.
// It is on every request's path (notify, re-enable), so it is frugal: what one handler sends goes
// out in one write, and the socket reads into one reused buffer instead of a new one per read.
import { connect, type Socket } from 'node:net';
import { FrameReader, FrameWriter, HvOp, toI32, type Frame } from './wire.js';

const READ_BUFFER_BYTES = 64 * 1024;

export class HvClientClosedError extends Error {
  constructor() {
    super('simulated hypervisor connection closed');
    this.name = 'HvClientClosedError';
  }
}

interface Pending {
  resolve(words: Uint32Array): void;
  reject(err: Error): void;
}

export class HvClient {
  private readonly reader = new FrameReader();
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<number, () => void>();
  /** Ports an event arrived for before anyone listened: delivered (and re-enabled) on listen(). */
  private readonly early = new Set<number>();
  private seq = 0;
  private closedFlag = false;
  private readonly closeHandlers: (() => void)[] = [];

  private readonly onFrameBound = (f: Frame): void => this.onFrame(f);

  private constructor(private readonly socket: Socket) {
    this.writer = new FrameWriter(socket);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  static connect(path: string): Promise<HvClient> {
    return new Promise((resolve, reject) => {
      let client: HvClient | undefined;
      const sock = connect({
        path,
        onread: {
          buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          callback: (n: number, buf: Uint8Array): boolean => {
            // The reader copies what it keeps: the buffer is refilled by the next read.
            if (client && !client.reader.push(Buffer.from(buf.buffer, buf.byteOffset, n), client.onFrameBound)) client.close();
            return true;
          },
        },
      });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve((client = new HvClient(sock)));
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Called once when the connection goes (the hypervisor dropped it or close() was called). */
  onClose(fn: () => void): void {
    if (this.closedFlag) fn();
    else this.closeHandlers.push(fn);
  }

  /** Sends a request and resolves with the reply words ([status, ...]). */
  call(op: HvOp, args: ArrayLike<number>): Promise<Uint32Array> {
    if (this.closedFlag) return Promise.reject(new HvClientClosedError());
    this.seq = (this.seq % 0xfffffffe) + 1; // never 0: seq 0 means "no reply wanted"
    const seq = this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.writer.write(op, seq, args);
    });
  }

  /** Sends a request that gets no reply (notify, unmask, unmap on a synchronous close path). */
  send(op: HvOp, args: ArrayLike<number>): void {
    if (!this.closedFlag) this.writer.write(op, 0, args);
  }

  /** Routes events of `port` to `fn`; at most one listener per port. */
  listen(port: number, fn: () => void): void {
    this.listeners.set(port, fn);
    if (this.early.delete(port)) {
      process.nextTick(() => {
        if (this.listeners.get(port) !== fn) return;
        fn();
        if (this.listeners.has(port)) this.send(HvOp.EvtchnUnmask, [port]);
      });
    }
  }

  unlisten(port: number): void {
    this.listeners.delete(port);
    this.early.delete(port);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // What was sent before close() still reaches the hypervisor (an unmap on a close path).
    this.writer.flush();
    this.socket.destroy();
    this.listeners.clear();
    const err = new HvClientClosedError();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const h of this.closeHandlers.splice(0)) h();
  }

  private onFrame(f: Frame): void {
    if (f.op === HvOp.Reply) {
      const p = this.pending.get(f.seq);
      if (!p) return;
      this.pending.delete(f.seq);
      p.resolve(f.args);
      return;
    }
    if (f.op === HvOp.Event) {
      const handled: number[] = [];
      let firstError: unknown;
      for (const port of f.args) {
        const fn = this.listeners.get(port);
        if (!fn) {
          this.early.add(port);
          continue;
        }
        try {
          fn();
        } catch (err) {
          firstError ??= err;
        }
        // Re-enable the port only after its handler ran: whatever the peer sent meanwhile is
        // one pending bit and comes back as exactly one more event.
        if (this.listeners.has(port)) handled.push(port);
      }
      if (handled.length) this.send(HvOp.EvtchnUnmask, handled);
      // A throwing handler is the caller's bug: surface it as an uncaught exception, but outside
      // the frame loop so the stream state stays consistent and every port is re-enabled.
      if (firstError !== undefined) {
        process.nextTick(() => {
          throw firstError;
        });
      }
    }
  }
}

/** The signed status word of a reply. */
export function statusOf(words: Uint32Array): number {
  return toI32(words[0] ?? 0);
}
