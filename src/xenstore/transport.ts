// The byte-stream seam under the XenStore client. The client speaks the xs_wire framing; a transport
// only moves bytes. Two exist: the unix socket of a dom0 xenstored (transport-unix.ts) and the
// /dev/xen/xenbus character device of a driver domain (transport-xenbus.ts, written over the native
// addon's fd polling). Both carry exactly the same frames.

/** Where a transport delivers what it reads. Called on the event loop, never re-entrantly. */
export interface TransportSink {
  /** Bytes as they arrive; frame boundaries are not preserved. The chunk is the sink's to keep. */
  onData(chunk: Buffer): void;
  /**
   * The stream ended: the peer closed it (`err` undefined) or it failed. Called at most once per
   * opened stream, and never after the client's own `close()`.
   */
  onClose(err: Error | undefined): void;
}

/** One open byte stream. Owned by the client that opened it. */
export interface TransportStream {
  /** Queues bytes for writing; a stream that is closed or failing drops them (onClose reports why). */
  write(bytes: Uint8Array): void;
  /** Idempotent. No sink callback after it returns. */
  close(): void;
}

/** An endpoint that can be opened again after a stream drops (a xenstored restart, say). */
export interface Transport {
  /** What it connects to, for error messages: "unix socket /run/xenstored/socket". */
  readonly description: string;
  /** Opens a new stream; rejects with a message naming the endpoint if it cannot. */
  open(sink: TransportSink): Promise<TransportStream>;
}

/**
 * The contract of src/xenstore/transport-xenbus.ts (owned by the native platform): it exports
 * `xenbusTransport(devicePath: string): Transport`. Auto-selection imports it lazily, so a build
 * without it, or a machine without the device, falls back cleanly.
 */
export type XenbusTransportFactory = (devicePath: string) => Transport;
