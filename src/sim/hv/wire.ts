// The simulated hypervisor's wire format: what a domain's kernel would do with hypercalls and
// what /dev/xen/{evtchn,gntdev,gntalloc} do for a Linux process, carried over a unix socket.
// Event-channel notifications themselves do not travel here once both ends know each other's
// doorbell (doorbells.ts); this socket sets the channels up and carries the rest.
// Every message is a run of little-endian u32 words: [n, op, seq, args...] where n counts the
// words after itself. All arguments are numbers (domids, ports, refs, frames), so the format
// is fixed-width and cheap to validate: the hypervisor reads guests' messages, and guests are
// hostile.
import { Buffer } from 'node:buffer';

export enum HvOp {
  /** -> [status, domid, ramPages, grantEntries] */
  Info = 1,
  /** (remoteDomid) -> [status, port, gen]: the port's doorbell is doorbellPath(domid, port, gen) */
  EvtchnAllocUnbound = 2,
  /** (remoteDomid, remotePort) -> [status, port, gen, remoteGen] */
  EvtchnBindInterdomain = 3,
  /** (port) -> [status] */
  EvtchnClose = 4,
  /**
   * (port), no reply: EVTCHNOP_send through the hypervisor, which rings the peer's doorbell. A process
   * that knows the peer's doorbell rings it itself; this is the path until it does.
   */
  EvtchnNotify = 5,
  /** (domid, flags, refs...) -> [gntst, failIndex, reason, handle, frames...] */
  GntMap = 7,
  /** (handle) -> [status] */
  GntUnmap = 8,
  /** (pages) -> [status, firstFrame] */
  MemAlloc = 9,
  /** (firstFrame, pages) -> [status] */
  MemFree = 10,
  /** (count) -> [status, refs...] */
  GntAllocRefs = 11,
  /** (refs...) -> [status]: the caller has ended access already */
  GntFreeRefs = 12,
  /**
   * (firstFrame, pages, refs...) -> [status]: ends access to each ref as soon as no mapping
   * pins it, then frees refs and frames (gntalloc's deferred release).
   */
  GntReleaseDeferred = 13,
  /** -> [status]; everything sent before it has been processed when the reply arrives */
  Ping = 14,
  /**
   * (domid, ref) -> [status, gntst, reason, page words...]: one granted page copied by the
   * hypervisor (GNTTABOP_copy from a grant), checked as a read-only map, nothing left pinned.
   */
  GntCopyPage = 15,
  /** hypervisor -> client: [seq, status, ...] */
  Reply = 100,
  /**
   * hypervisor -> client: (port, peerDomid, peerPort, peerGen): the peer of one of the client's
   * ports changed — bound by another domain, or gone (peerGen 0: the port is unbound again).
   */
  EvtchnPeer = 102,
}

export const GNTMAP_FLAG_READONLY = 1;

/** Why a map failed, beyond the GNTST code (for error messages). */
export enum MapFailReason {
  None = 0,
  BadFlagsOrDomain = 1,
  WrongGrantee = 2,
  ReadOnly = 3,
  PinnedByOther = 4,
  Unstable = 5,
  NoDomain = 6,
  BadRef = 7,
  NoSpace = 8,
}

/** Most words one frame may carry: a 65536-ref map plus its header. */
export const MAX_FRAME_WORDS = 65536 + 16;

// Large frames are built and read as whole word arrays (one copy each way, no per-word calls): a
// GntMap of a 1080p buffer carries 2027 words out and 2030 back. Small ones (notify, close,
// unmap, peer changes) stay word by word, which is 4-18x cheaper for a few words
// than materialising a typed array's buffer. Word arrays are in host byte order, so the wire's
// little-endian promise holds on little-endian hosts only, the only ones this simulator runs on.
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1)
  throw new Error('the simulated hypervisor wire needs a little-endian host');

/** Frames with more argument words than this are encoded and decoded in bulk. */
const BULK_WORDS = 32;

export function encodeFrame(op: number, seq: number, args: ArrayLike<number>): Buffer {
  const n = 2 + args.length;
  if (args.length <= BULK_WORDS) {
    const buf = Buffer.allocUnsafe((n + 1) * 4);
    buf.writeUInt32LE(n, 0);
    buf.writeUInt32LE(op >>> 0, 4);
    buf.writeUInt32LE(seq >>> 0, 8);
    for (let i = 0; i < args.length; i++) buf.writeUInt32LE(args[i]! >>> 0, 12 + i * 4);
    return buf;
  }
  const words = new Uint32Array(n + 1);
  words[0] = n;
  words[1] = op;
  words[2] = seq;
  // Typed-array conversion is ToUint32, the same as `>>> 0`: negative statuses travel as i32.
  words.set(args, 3);
  return Buffer.from(words.buffer, 0, words.byteLength);
}

export interface Frame {
  readonly op: number;
  readonly seq: number;
  readonly args: Uint32Array;
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into frames. Bytes are copied out of the socket's chunks once (so a chunk
 * may be a reused read buffer); a frame whose length is out of bounds makes `push` return false
 * (the peer is broken or hostile and the connection should be dropped).
 */
export class FrameReader {
  private pending: Buffer = EMPTY;

  push(chunk: Buffer, onFrame: (f: Frame) => void): boolean {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (this.pending.length - off >= 4) {
      const n = this.pending.readUInt32LE(off);
      if (n < 2 || n > MAX_FRAME_WORDS) return false;
      const bytes = (n + 1) * 4;
      if (this.pending.length - off < bytes) break;
      const op = this.pending.readUInt32LE(off + 4);
      const seq = this.pending.readUInt32LE(off + 8);
      const args = new Uint32Array(n - 2);
      if (args.length > BULK_WORDS) new Uint8Array(args.buffer).set(this.pending.subarray(off + 12, off + bytes));
      else for (let i = 0; i < args.length; i++) args[i] = this.pending.readUInt32LE(off + 12 + i * 4);
      off += bytes;
      onFrame({ op, seq, args });
    }
    this.pending = off === this.pending.length ? EMPTY : Buffer.from(this.pending.subarray(off));
    return true;
  }
}

/**
 * Frames written in one turn of the event loop leave in one write: a hypervisor answering several
 * requests of one read, or a process unmapping and closing in one handler, makes one system call.
 * Order is kept. flush() writes at once (before a close).
 */
export class FrameWriter {
  private queued: Buffer[] = [];
  private scheduled = false;

  constructor(private readonly out: { write(b: Buffer): unknown; readonly destroyed: boolean }) {}

  write(op: number, seq: number, args: ArrayLike<number>): void {
    this.queued.push(encodeFrame(op, seq, args));
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queued.length === 0) return;
    const q = this.queued;
    this.queued = [];
    if (!this.out.destroyed) this.out.write(q.length === 1 ? q[0]! : Buffer.concat(q));
  };
}

/** Status words are i32 on the wire (negative errno or GNTST). */
export function toI32(word: number): number {
  return word | 0;
}
