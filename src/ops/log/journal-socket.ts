// The datagram socket to journald, connected, so that the kernel tells us when journald's queue is
// full (a connected unix datagram socket polls writable only when its peer has room). Entries sent
// into a full queue wait here, bounded, and go out when it drains; beyond the bound the oldest are
// dropped and counted. The event loop never blocks on journald.
import { createRequire } from 'node:module';
import type { UnixDgramSocket } from 'unix-dgram';
import { Errno } from '../../util/errno.js';

// unix-dgram (CommonJS, with a compiled addon) is required when the first entry goes to journald,
// not imported: a daemon logging JSON lines never loads it, and one under systemd loads it without
// the ES-module wrapper around a CommonJS module (its exports scanned from the source) at start-up.
const requireCjs = createRequire(import.meta.url);
let unixDgram: typeof import('unix-dgram') | undefined;

const { ECONNREFUSED, ENOENT, ENOTCONN } = Errno;

export const MAX_QUEUED = 2048;
export const MAX_QUEUED_BYTES = 8 << 20;

export interface JournalSocketStats {
  readonly sent: number;
  readonly queued: number;
  readonly dropped: number;
}

export class JournalSocket {
  private socket: UnixDgramSocket | undefined;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private waiting = false;
  private closed = false;
  private sent = 0;
  private dropped = 0;

  /** `onDown`: journald cannot be reached (its socket is gone); the caller stops sending here. */
  constructor(
    readonly path: string,
    private readonly onDown: (reason: string) => void,
  ) {}

  get stats(): JournalSocketStats {
    return { sent: this.sent, queued: this.queue.length, dropped: this.dropped };
  }

  /** Sends or queues one entry; false once journald is unreachable (the entry is not kept). */
  send(entry: Buffer): boolean {
    if (this.closed) return false;
    if (this.waiting) {
      this.enqueue(entry);
      return true;
    }
    const r = this.trySend(entry);
    if (r === 'busy') this.enqueue(entry);
    return r !== 'down';
  }

  /** Idempotent; entries still queued are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped += this.queue.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.closeSocket();
  }

  private trySend(entry: Buffer, retried = false): 'sent' | 'busy' | 'down' {
    let s: UnixDgramSocket;
    try {
      s = this.socket ??= this.open();
    } catch (err) {
      this.down((err as Error).message);
      return 'down';
    }
    let result: 'sent' | 'busy' | 'down' = 'sent';
    let failure: (Error & { code?: number | string }) | undefined;
    s.send(entry, (err) => {
      failure = err;
    });
    if (!failure) {
      this.sent++;
      return result;
    }
    if (failure.message === 'congestion') {
      this.waiting = true;
      return 'busy';
    }
    const errno = typeof failure.code === 'number' ? -failure.code : 0;
    if ((errno === ECONNREFUSED || errno === ENOTCONN || errno === ENOENT) && !retried) {
      // journald restarted: its new socket has the same path.
      this.closeSocket();
      return this.trySend(entry, true);
    }
    result = errno === ECONNREFUSED || errno === ENOENT || errno === ENOTCONN ? 'down' : 'sent';
    if (result === 'down') this.down(failure.message);
    else this.dropped++; // EMSGSIZE and the like: this entry only
    return result;
  }

  private open(): UnixDgramSocket {
    unixDgram ??= requireCjs('unix-dgram') as typeof import('unix-dgram');
    const s = unixDgram.createSocket('unix_dgram');
    let error: Error | undefined;
    // The library reports through events; without listeners an 'error' would throw.
    s.on('error', (e: Error) => (error = e));
    s.on('congestion', () => undefined);
    s.on('writable', () => this.drain());
    s.connect(this.path);
    if (error) {
      s.close();
      throw new Error(`journald socket ${this.path}: ${error.message}`);
    }
    return s;
  }

  private drain(): void {
    this.waiting = false;
    while (this.queue.length > 0 && !this.waiting && !this.closed) {
      const e = this.queue[0]!;
      const r = this.trySend(e);
      if (r === 'busy') return;
      this.queue.shift();
      this.queuedBytes -= e.length;
      if (r === 'down') return;
    }
  }

  private enqueue(entry: Buffer): void {
    this.queue.push(entry);
    this.queuedBytes += entry.length;
    while (this.queue.length > MAX_QUEUED || this.queuedBytes > MAX_QUEUED_BYTES) {
      this.queuedBytes -= this.queue.shift()!.length;
      this.dropped++;
    }
  }

  private down(reason: string): void {
    this.dropped += this.queue.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.closeSocket();
    this.onDown(reason);
  }

  private closeSocket(): void {
    const s = this.socket;
    this.socket = undefined;
    this.waiting = false;
    try {
      s?.close();
    } catch {
      /* the library closed it already */
    }
  }
}
