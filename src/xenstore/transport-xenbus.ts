// The /dev/xen/xenbus transport: how a driver domain (or a dom0 without a xenstored socket) reaches
// xenstored. The character device speaks the same xs_wire frames as the socket, with one trap: the
// kernel treats every write() as (part of) ONE message and drops whatever follows a complete
// message in the same write. So bytes are cut into whole frames and each frame goes out on its own
// write(); reads need no care (the client reassembles any split). Readiness comes from the addon's
// libuv poller; nothing here blocks.
import { native } from '../native/addon.js';
import { POLL_READABLE, POLL_WRITABLE, WOULD_BLOCK } from '../native/fd.js';
import type { NativeFdPoller } from '../native/fd.js';
import type { Transport, TransportSink, TransportStream } from './transport.js';
import { HEADER_SIZE } from './wire.js';

/** Bytes read per readiness callback at most, so one chatty xenstored cannot hog the loop. */
const READ_BUDGET = 64 * 1024;

/**
 * Cuts a byte stream into xs_wire frames for a device that wants one frame per write. Pure: the
 * writer is injected. A frame that was only partly accepted keeps its place; the rest of it goes
 * out next (the kernel accumulates a message across writes).
 */
export class FrameWriter {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of the head frame already accepted by the device. */
  private sentOfHead = 0;

  push(bytes: Uint8Array): void {
    this.pending = this.pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.pending, bytes]);
  }

  get queuedBytes(): number {
    return this.pending.length - this.sentOfHead;
  }

  /**
   * Writes whole frames with `write(bytes) -> accepted | WOULD_BLOCK` until the queue is empty,
   * the device would block (returns false), or only a partial frame is left (returns true: the
   * client has not finished queueing it).
   */
  flush(write: (bytes: Uint8Array) => number): boolean {
    for (;;) {
      const frameLen = this.headFrameLength();
      if (frameLen === undefined) return true;
      const rest = this.pending.subarray(this.sentOfHead, frameLen);
      const r = write(rest);
      if (r === WOULD_BLOCK) return false;
      if (r <= 0) throw new Error(`xenbus write accepted ${r} bytes`);
      this.sentOfHead += r;
      if (this.sentOfHead >= frameLen) {
        this.pending = this.pending.subarray(frameLen);
        this.sentOfHead = 0;
      }
    }
  }

  private headFrameLength(): number | undefined {
    if (this.pending.length < HEADER_SIZE) return undefined;
    const len = HEADER_SIZE + this.pending.readUInt32LE(12);
    return this.pending.length >= len ? len : undefined;
  }
}

class XenbusStream implements TransportStream {
  private readonly poller: NativeFdPoller;
  private readonly frames = new FrameWriter();
  private readonly readBuf = new Uint8Array(8192);
  private closed = false;
  private wantWrite = false;

  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly sink: TransportSink,
  ) {
    this.poller = new (native().FdPoller)(fd, (status, events) => this.onReady(status, events));
    this.poller.start(POLL_READABLE);
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.frames.push(bytes);
    this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.close();
    native().closeDevice(this.fd);
  }

  private flush(): void {
    const n = native();
    let drained: boolean;
    try {
      drained = this.frames.flush((b) => n.writeFd(this.fd, b, 0, b.length));
    } catch (err) {
      this.fail(
        new Error(
          `${this.path}: writing a XenStore request failed: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
      return;
    }
    const want = !drained;
    if (want !== this.wantWrite && !this.closed) {
      this.wantWrite = want;
      this.poller.start(want ? POLL_READABLE | POLL_WRITABLE : POLL_READABLE);
    }
  }

  private onReady(status: number, events: number): void {
    if (this.closed) return;
    if (status < 0) {
      this.fail(new Error(`${this.path}: poll failed (errno ${-status})`));
      return;
    }
    if (events & POLL_WRITABLE) this.flush();
    if (!(events & POLL_READABLE)) return;
    const n = native();
    let budget = READ_BUDGET;
    while (budget > 0 && !this.closed) {
      let r: number;
      try {
        r = n.readFd(this.fd, this.readBuf, 0, this.readBuf.length);
      } catch (err) {
        this.fail(new Error(`${this.path}: read failed: ${err instanceof Error ? err.message : String(err)}`));
        return;
      }
      if (r === WOULD_BLOCK) return;
      if (r === 0) {
        this.fail(undefined);
        return;
      }
      budget -= r;
      this.sink.onData(Buffer.from(this.readBuf.subarray(0, r)));
    }
  }

  private fail(err: Error | undefined): void {
    if (this.closed) return;
    this.close();
    this.sink.onClose(err);
  }
}

/** The factory src/xenstore/select-transport.ts loads lazily (XenbusTransportFactory). */
export function xenbusTransport(devicePath: string): Transport {
  return {
    description: `xenbus device ${devicePath}`,
    // async: a failure to open is a rejection, like the socket transport's.
    async open(sink: TransportSink): Promise<TransportStream> {
      // The addon's error names the device, errno and the fix (no Xen, xenfs not set up).
      const fd = native().openDevice(devicePath, true, true, 'xenbus');
      try {
        return new XenbusStream(fd, devicePath, sink);
      } catch (err) {
        native().closeDevice(fd);
        throw err;
      }
    },
  };
}
