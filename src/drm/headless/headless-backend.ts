// The headless OutputBackend: virtual outputs named and sized by configuration, plus outputs made
// on demand for guest connectors nobody mapped to a real screen. No device, so be-alloc buffers
// come from the platform's page allocator.
import { emitter } from '../../util/events.js';
import type { DomId } from '../../util/ids.js';
import { XEN_PAGE_SIZE, type GrantedBuffer, type XenPlatform } from '../../xen/platform.js';
import type {
  Mode,
  Output,
  OutputBackend,
  OutputBackendEvents,
  OutputBackendResources,
  OutputSpec,
} from '../output.js';
import { HeadlessOutput } from './headless-output.js';

export type HeadlessOutputSpec = OutputSpec;

export const DEFAULT_REFRESH_MILLIHZ = 60000;

/** Parses `NAME=WxH` or `NAME=WxH@HZ` (a command-line option). */
export function parseHeadlessSpec(s: string): HeadlessOutputSpec {
  const m = /^([^=\s]{1,64})=(\d{1,5})x(\d{1,5})(?:@(\d{1,3}(?:\.\d{1,3})?))?$/.exec(s);
  if (!m)
    throw new Error(`headless output ${JSON.stringify(s)}: expected NAME=WIDTHxHEIGHT[@HZ], e.g. screen0=1920x1080@60`);
  const width = Number(m[2]);
  const height = Number(m[3]);
  const hz = m[4] === undefined ? 60 : Number(m[4]);
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    throw new Error(`headless output ${m[1]}: size ${width}x${height} out of range`);
  if (hz < 1 || hz > 360) throw new Error(`headless output ${m[1]}: refresh ${hz} Hz out of range 1..360`);
  return { name: m[1]!, width, height, refreshMilliHz: Math.round(hz * 1000) };
}

export class HeadlessBackend implements OutputBackend {
  readonly kind = 'headless' as const;
  readonly events = emitter<OutputBackendEvents>();
  private readonly byName = new Map<string, HeadlessOutput>();
  private closed = false;

  constructor(specs: readonly HeadlessOutputSpec[] = []) {
    for (const s of specs) this.createOutput(s);
  }

  outputs(): readonly Output[] {
    return [...this.byName.values()];
  }

  output(name: string): HeadlessOutput | undefined {
    return this.byName.get(name);
  }

  createOutput(spec: HeadlessOutputSpec): HeadlessOutput {
    if (this.closed) throw new Error('headless backend closed');
    if (this.byName.has(spec.name)) throw new Error(`headless output ${spec.name} exists already`);
    const mode: Mode = {
      width: spec.width,
      height: spec.height,
      refreshMilliHz: spec.refreshMilliHz ?? DEFAULT_REFRESH_MILLIHZ,
      preferred: true,
    };
    const out = new HeadlessOutput(spec.name, mode);
    this.byName.set(spec.name, out);
    this.events.emit('output-added', out);
    return out;
  }

  /** Closes and forgets an output made by createOutput; unknown names are ignored. */
  removeOutput(name: string): void {
    const out = this.byName.get(name);
    if (!out) return;
    out.close();
    this.byName.delete(name);
    this.events.emit('output-removed', out);
  }

  allocateGuestBuffer(platform: XenPlatform, domid: DomId, size: number): Promise<GrantedBuffer> {
    return platform.allocGranted(domid, Math.ceil(size / XEN_PAGE_SIZE));
  }

  resources(): OutputBackendResources {
    let framebuffers = 0;
    for (const o of this.byName.values()) framebuffers += o.heldFramebuffers;
    return { framebuffers, dmaBufImports: 0, dumbBuffers: 0 };
  }

  close(): Promise<void> {
    this.closed = true;
    for (const o of this.byName.values()) o.close();
    this.byName.clear();
    return Promise.resolve();
  }
}
