// A stand-in for the Wayland connection at the output's seam: it records what the output asks
// of the compositor and lets a test play the compositor's events. For what no compositor on this
// machine does (linux-dmabuf, input from a seat, a window that goes quiet).
import type { DmabufPlane as Plane, WindowEvent } from '../../../src/drm/wayland/wayland-connection.js';

/** The part of WaylandConnection the output uses, recording every request. */
export class StandIn {
  readonly commits: number[] = [];
  readonly asked = new Map<number, Plane>();
  readonly destroyed: number[] = [];
  onEvent: (e: WindowEvent) => void = () => {};
  private nextBuffer = 2;
  readonly alive = true;
  constructor(
    private readonly formats: [number, bigint][] | null,
    private readonly clock = 1,
  ) {}
  dmabufFormats(): [number, bigint][] | null {
    return this.formats;
  }
  presentationClock(): number {
    return this.clock;
  }
  createWindow(spec: { width: number; height: number; stride: number }, onEvent: (e: WindowEvent) => void) {
    this.onEvent = onEvent;
    const bytes = spec.stride * spec.height;
    return { id: 7, buffers: [new Uint8Array(bytes), new Uint8Array(bytes)] as const, stride: spec.stride };
  }
  createDmabuf(_window: number, plane: Plane): number {
    const id = this.nextBuffer++;
    this.asked.set(id, { ...plane });
    return id;
  }
  destroyBuffer(_window: number, buffer: number): void {
    this.destroyed.push(buffer);
  }
  commit(_window: number, buffer: number): void {
    this.commits.push(buffer);
  }
  setTitle(): void {}
  destroyWindow(): void {}
  send(e: Omit<WindowEvent, 'window'>): void {
    this.onEvent({ window: 7, ...e } as WindowEvent);
  }
}
