// PNG encoding off the event loop: one worker thread running pngjs, fed one frame at a time. A
// 1920x1080 frame takes tens of milliseconds to filter and deflate, which the guests' rings must
// not wait for. Snapshots and the viewer share it; the viewer asks for fast compression.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Frame } from '../../drm/output.js';

export interface EncodeOptions {
  /** zlib level 0..9; the viewer uses 1 (speed), snapshots the default 6. */
  readonly deflateLevel?: number;
}

interface Job {
  readonly id: number;
  resolve(png: Buffer): void;
  reject(err: Error): void;
}

/** The worker's code, CommonJS, with pngjs resolved from here so it works from src/ and dist/. */
function workerSource(pngjsPath: string): string {
  return `
const { parentPort } = require('node:worker_threads');
const { PNG } = require(${JSON.stringify(pngjsPath)});
parentPort.on('message', (m) => {
  try {
    const png = new PNG({ width: m.width, height: m.height, colorType: 6, inputHasAlpha: true });
    png.data = Buffer.from(m.rgba);
    const out = PNG.sync.write(png, { colorType: 6, deflateLevel: m.deflateLevel });
    const ab = out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
    parentPort.postMessage({ id: m.id, png: ab }, [ab]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});`;
}

export class PngEncoder {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private closed = false;
  private readonly source = workerSource(createRequire(import.meta.url).resolve('pngjs'));

  /** Frames waiting or being encoded. */
  get pending(): number {
    return this.jobs.size;
  }

  encode(frame: Frame, opts: EncodeOptions = {}): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('png encoder closed'));
    const expected = frame.width * frame.height * 4;
    if (!(frame.width > 0 && frame.height > 0) || frame.rgba.byteLength < expected) {
      return Promise.reject(new RangeError(`frame ${frame.width}x${frame.height} with ${frame.rgba.byteLength} bytes`));
    }
    const w = (this.worker ??= this.start());
    w.ref();
    // A copy the worker owns: the output's frame may change under us.
    const rgba = frame.rgba.slice(0, expected).buffer;
    const id = ++this.nextId;
    return new Promise<Buffer>((resolve, reject) => {
      this.jobs.set(id, { id, resolve, reject });
      w.postMessage({ id, width: frame.width, height: frame.height, rgba, deflateLevel: opts.deflateLevel ?? 6 }, [
        rgba,
      ]);
    });
  }

  /** Idempotent: fails what is pending and ends the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('png encoder closed'));
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private start(): Worker {
    const w = new Worker(this.source, { eval: true });
    // An idle encoder must not keep a finishing process alive.
    w.unref();
    w.on('message', (m: { id: number; png?: ArrayBuffer; error?: string }) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (m.png) job.resolve(Buffer.from(m.png));
      else job.reject(new Error(`png encoding failed: ${m.error ?? 'unknown'}`));
      if (this.jobs.size === 0) w.unref();
    });
    w.on('error', (err) => {
      this.failAll(err);
      if (this.worker === w) this.worker = undefined;
    });
    w.on('exit', () => {
      this.failAll(new Error('png encoder worker exited'));
      if (this.worker === w) this.worker = undefined;
    });
    return w;
  }

  private failAll(err: Error): void {
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const j of jobs) j.reject(err);
  }
}
