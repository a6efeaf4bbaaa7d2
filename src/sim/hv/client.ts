// A process's connection to the simulated hypervisor, acting for the domain whose socket it
// opened. Requests are matched to replies by sequence number. Event channels are doorbells
// (doorbells.ts): events arrive on them, not here, and a notification rings the peer's doorbell
// directly once the hypervisor has said who the peer is; until then it goes through here. What one
// handler sends goes out in one write, and the socket reads into one reused buffer.
import { connect, type Socket } from 'node:net';
import { Doorbells } from './doorbells.js';
import { hvSocketPath } from './paths.js';
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
  private readonly doorbells: Doorbells;
  private seq = 0;
  private closedFlag = false;
  private readonly closeHandlers: (() => void)[] = [];

  private readonly onFrameBound = (f: Frame): void => this.onFrame(f);

  private constructor(
    private readonly socket: Socket,
    dir: string,
    domid: number,
  ) {
    this.doorbells = new Doorbells(dir, domid);
    this.writer = new FrameWriter(socket);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Connects as `domid` to the hypervisor of the simulated host in `dir`. */
  static connect(dir: string, domid: number): Promise<HvClient> {
    return new Promise((resolve, reject) => {
      let client: HvClient | undefined;
      const sock = connect({
        path: hvSocketPath(dir, domid),
        onread: {
          buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          callback: (n: number, buf: Uint8Array): boolean => {
            // The reader copies what it keeps: the buffer is refilled by the next read.
            if (client && !client.reader.push(Buffer.from(buf.buffer, buf.byteOffset, n), client.onFrameBound))
              client.close();
            return true;
          },
        },
      });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve((client = new HvClient(sock, dir, domid)));
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
    return this.callThen(op, args);
  }

  /**
   * allocUnbound and bindInterdomain: the port's doorbell is opened as its reply is read, in
   * frame order, so an EvtchnPeer for the port that follows in the same read finds it.
   * -> [status, port] (bind: [status, port, remotePort's gen] too).
   */
  async allocUnbound(remoteDomid: number): Promise<Uint32Array> {
    return this.callThen(HvOp.EvtchnAllocUnbound, [remoteDomid], (r) => {
      if (statusOf(r) === 0) this.adoptOrClose(r[1]!, r[2]!);
    });
  }

  async bindInterdomain(remoteDomid: number, remotePort: number): Promise<Uint32Array> {
    return this.callThen(HvOp.EvtchnBindInterdomain, [remoteDomid, remotePort], (r) => {
      if (statusOf(r) !== 0) return;
      this.adoptOrClose(r[1]!, r[2]!);
      this.doorbells.setPeer(r[1]!, remoteDomid, remotePort, r[3]!);
    });
  }

  /** EVTCHNOP_send on one of this process's ports. */
  notify(port: number): void {
    if (!this.doorbells.ring(port)) this.send(HvOp.EvtchnNotify, [port]);
  }

  /** Closes a port: no event is delivered for it after this. */
  closePort(port: number): void {
    this.doorbells.forget(port);
    this.send(HvOp.EvtchnClose, [port]);
  }

  /** A port whose doorbell cannot be opened (out of descriptors) is closed again, not leaked. */
  private adoptOrClose(port: number, gen: number): void {
    try {
      this.doorbells.adopt(port, gen);
    } catch (err) {
      this.send(HvOp.EvtchnClose, [port]);
      throw err;
    }
  }

  private callThen(op: HvOp, args: ArrayLike<number>, onReply?: (words: Uint32Array) => void): Promise<Uint32Array> {
    if (this.closedFlag) return Promise.reject(new HvClientClosedError());
    this.seq = (this.seq % 0xfffffffe) + 1; // never 0: seq 0 means "no reply wanted"
    const seq = this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, {
        resolve: onReply
          ? (w) => {
              try {
                onReply(w);
              } catch (err) {
                reject(err as Error);
                return;
              }
              resolve(w);
            }
          : resolve,
        reject,
      });
      this.writer.write(op, seq, args);
    });
  }

  /** Sends a request that gets no reply (a notify through the hypervisor, an unmap on a synchronous close path). */
  send(op: HvOp, args: ArrayLike<number>): void {
    if (!this.closedFlag) this.writer.write(op, 0, args);
  }

  /**
   * Calls `fn` for events of `port` (a port this process allocated or bound); at most one listener
   * per port. A notification that came before is pending and is delivered once listening starts.
   */
  listen(port: number, fn: () => void): void {
    this.doorbells.listen(port, fn);
  }

  unlisten(port: number): void {
    this.doorbells.unlisten(port);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // What was sent before close() still reaches the hypervisor (an unmap on a close path).
    this.doorbells.close();
    this.writer.flush();
    this.socket.destroy();
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
    if (f.op === HvOp.EvtchnPeer && f.args.length === 4)
      this.doorbells.setPeer(f.args[0]!, f.args[1]!, f.args[2]!, f.args[3]!);
  }
}

/** The signed status word of a reply. */
export function statusOf(words: Uint32Array): number {
  return toI32(words[0] ?? 0);
}
