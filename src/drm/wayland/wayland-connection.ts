// One connection to the compositor: the addon's client, its socket watched by libuv, requests
// flushed (waiting for room when the socket is full), and the compositor's events handed to the
// window they belong to. The connection's end (compositor gone, protocol error) is reported once.
import { native } from '../../native/addon.js';
import { POLL_READABLE, POLL_WRITABLE, type NativeFdPoller } from '../../native/fd.js';
import {
  waylandClientClass,
  type NativeWaylandClient,
  type WaylandEvent,
  type WaylandOutputInfo,
} from '../../native/wayland.js';

export type WindowEvent = Exclude<WaylandEvent, { type: 'lost' }>;

/** One plane of a guest framebuffer's dma-buf, as a zwp_linux_buffer_params_v1 buffer asks for it. */
export interface DmabufPlane {
  readonly fd: number;
  readonly width: number;
  readonly height: number;
  readonly fourcc: number;
  /** Byte offset of the first pixel in the dma-buf. */
  readonly offset: number;
  readonly stride: number;
  readonly modifier: bigint;
}

export interface WindowHandle {
  readonly id: number;
  /** The two halves of the window's shm pool, detached when the window is destroyed. */
  readonly buffers: readonly [Uint8Array, Uint8Array];
  readonly stride: number;
}

export class WaylandConnection {
  private readonly client: NativeWaylandClient;
  private readonly poller: NativeFdPoller;
  private readonly windows = new Map<number, (e: WindowEvent) => void>();
  private closed = false;
  private lost = false;

  /** Throws (with errno) when there is no compositor at `display` ('' = $WAYLAND_DISPLAY). */
  constructor(
    display: string,
    private readonly onLost: (errno: number) => void,
  ) {
    const Client = waylandClientClass();
    this.client = new Client(display);
    try {
      this.poller = new (native().FdPoller)(this.client.fd(), (status, events) => this.onReady(status, events));
      this.poller.start(POLL_READABLE);
    } catch (err) {
      this.client.close();
      throw err;
    }
  }

  get alive(): boolean {
    return !this.closed && !this.lost;
  }

  outputs(): WaylandOutputInfo[] {
    return this.client.outputs();
  }

  shmFormats(): number[] {
    return this.client.shmFormats();
  }

  /** null: the compositor offers no zwp_linux_dmabuf_v1; else the [fourcc, modifier] pairs it takes. */
  dmabufFormats(): [number, bigint][] | null {
    return this.client.dmabufFormats();
  }

  /** The clock of presentation timestamps, or -1 when the compositor offers no wp_presentation. */
  presentationClock(): number {
    return this.client.presentationClock();
  }

  /** A dma-buf buffer for `window`, answered by the window event dmabuf-created or dmabuf-failed. */
  createDmabuf(window: number, plane: DmabufPlane): number {
    const id = this.client.createDmabuf(
      window,
      plane.fd,
      plane.width,
      plane.height,
      plane.fourcc,
      plane.offset,
      plane.stride,
      plane.modifier,
    );
    this.flush();
    return id;
  }

  /** Idempotent; nothing after the connection's end (its buffers went with it). */
  destroyBuffer(window: number, buffer: number): void {
    if (!this.alive || !this.windows.has(window)) return;
    this.client.destroyBuffer(window, buffer);
  }

  createWindow(
    spec: {
      title: string;
      appId: string;
      width: number;
      height: number;
      stride: number;
      shmFormat: number;
      fullscreenOn?: string;
    },
    onEvent: (e: WindowEvent) => void,
  ): WindowHandle {
    const w = this.client.createWindow(
      spec.title,
      spec.appId,
      spec.width,
      spec.height,
      spec.stride,
      spec.shmFormat,
      spec.fullscreenOn ?? '',
    );
    this.windows.set(w.id, onEvent);
    this.flush();
    return { id: w.id, buffers: [new Uint8Array(w.buffers[0]), new Uint8Array(w.buffers[1])], stride: spec.stride };
  }

  commit(window: number, buffer: number): void {
    if (!this.alive) return;
    this.client.commit(window, buffer);
    this.flush();
  }

  setTitle(window: number, title: string): void {
    if (!this.alive) return;
    this.client.setTitle(window, title);
    this.flush();
  }

  /** Idempotent; the window's views are detached. */
  destroyWindow(window: number): void {
    if (this.closed || !this.windows.delete(window)) return;
    this.client.destroyWindow(window);
  }

  /** Every window and the connection; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.windows.clear();
    this.poller.close();
    this.client.close();
  }

  private flush(): void {
    const r = this.client.flush();
    // A full socket: send the rest when it has room, as well as reading.
    if (r === 1) this.poller.start(POLL_READABLE | POLL_WRITABLE);
  }

  private onReady(status: number, events: number): void {
    if (this.closed) return;
    if (events & POLL_WRITABLE) {
      if (this.client.flush() === 0) this.poller.start(POLL_READABLE);
    }
    // An error or hang-up from poll is read as the connection's end by dispatch().
    if (status < 0 || events & POLL_READABLE || !(events & POLL_WRITABLE)) this.dispatch();
  }

  private dispatch(): void {
    for (const e of this.client.dispatch()) {
      if (e.type === 'lost') {
        if (this.lost) continue;
        this.lost = true;
        this.poller.stop();
        this.onLost(e.value);
        return;
      }
      this.windows.get(e.window)?.(e);
      if (this.closed) return;
    }
  }
}
