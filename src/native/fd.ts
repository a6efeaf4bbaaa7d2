// Types of the addon's descriptor mechanism (native/src/poller.cc, fdio.cc, sdnotify.cc).

/** Readiness of one descriptor from libuv's poll loop. The descriptor stays the caller's. */
export interface NativeFdPoller {
  /** events: 1 readable, 2 writable, 3 both. */
  start(events: number): void;
  stop(): void;
  /** Whether the poller keeps the process alive (like a socket's ref/unref). */
  ref(): void;
  unref(): void;
  /** Idempotent; no callback after it returns. */
  close(): void;
}

export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;

/** Negative return of readFd/writeFd when the descriptor has nothing / no room now. */
export const WOULD_BLOCK = -11;

export interface FdFunctions {
  readonly FdPoller: new (fd: number, onReady: (status: number, events: number) => void) => NativeFdPoller;
  /** open(2) with O_CLOEXEC; `kind` ('xenbus', ...) selects the advice in the error. */
  openDevice(path: string, writable: boolean, nonblocking: boolean, kind?: string): number;
  closeDevice(fd: number): void;
  /** A close-on-exec duplicate, counted like openDevice's; close it with closeDevice. */
  dupFd(fd: number): number;
  /** Bytes read (0 = end of file) or WOULD_BLOCK. */
  readFd(fd: number, view: Uint8Array, offset: number, length: number): number;
  /** Bytes written or WOULD_BLOCK. */
  writeFd(fd: number, view: Uint8Array, offset: number, length: number): number;
  /** An epoll set of doorbells (the simulator's /dev/xen/evtchn), counted as a device fd. */
  doorbellSetCreate(): number;
  doorbellSetAdd(set: number, doorbellFd: number, port: number): void;
  /** Must come before the doorbell's descriptor closes. */
  doorbellSetRemove(set: number, doorbellFd: number): void;
  /** Drains every readable doorbell; their ports go to ports[0..n). Never blocks. */
  doorbellSetTake(set: number, ports: Uint32Array): number;
  /** One byte into a doorbell; a full one is already pending (no error). */
  doorbellRing(doorbellFd: number): void;
  /** mkfifo(3); throws with the errno's name. */
  makeFifo(path: string, mode: number): void;
  sdNotify(socketPath: string, message: string): void;
  /** A bound non-blocking datagram socket (play systemd in tests); close with closeDevice. */
  bindNotifySocket(path: string): number;
}

/** Live native resources; every field is 0 after a clean tear-down. */
export interface NativeResources {
  readonly deviceFds: number;
  readonly grantMappings: number;
  readonly grantMappedPages: number;
  readonly exportedDmabufs: number;
  readonly importedDmabufs: number;
  readonly grantAllocs: number;
  readonly grantAllocPages: number;
  readonly evtchnBindings: number;
  readonly pollers: number;
  readonly drmDumbBuffers: number;
  readonly drmFramebuffers: number;
  readonly drmBlobs: number;
}
