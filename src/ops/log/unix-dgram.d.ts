// Types for the parts of unix-dgram (AF_UNIX datagram sockets, which Node lacks) that we use.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  export interface UnixDgramSocket extends EventEmitter {
    /** Sends synchronously; the callback runs before send returns: an errno error, 'congestion' (EAGAIN) or none. */
    send(
      buf: Buffer,
      offset: number,
      length: number,
      path: string,
      callback?: (err?: Error & { code?: number | string }) => void,
    ): void;
    /** Connected: `send(buf, callback)`; the peer's full queue then reads as 'congestion' until 'writable'. */
    send(buf: Buffer, callback?: (err?: Error & { code?: number | string }) => void): void;
    connect(path: string): void;
    bind(path: string): void;
    close(): void;
  }

  export function createSocket(
    type: 'unix_dgram',
    listener?: (msg: Buffer, rinfo: { size: number; path?: string }) => void,
  ): UnixDgramSocket;
  const _default: { createSocket: typeof createSocket };
  export default _default;
}
