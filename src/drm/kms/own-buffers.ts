// be-alloc buffers this card allocated (dumb buffers granted to a guest): when the guest attaches a
// framebuffer to one, it is scanned out from its own GEM handle with no export or import at all.
// Found by the ArrayBuffer of the mapping, which every view of it (the backend takes subarrays)
// shares.
export interface OwnBuffer {
  readonly handle: number;
  readonly size: number;
}

export class OwnBuffers {
  private readonly byMemory = new WeakMap<ArrayBufferLike, OwnBuffer>();
  private live = 0;

  add(memory: ArrayBufferLike, b: OwnBuffer): void {
    this.byMemory.set(memory, b);
    this.live++;
  }

  remove(memory: ArrayBufferLike): void {
    if (this.byMemory.delete(memory)) this.live--;
  }

  find(view: Uint8Array): OwnBuffer | undefined {
    return this.byMemory.get(view.buffer);
  }

  get size(): number {
    return this.live;
  }
}
