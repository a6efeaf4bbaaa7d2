// PNG encoding off the event loop: one worker thread running pngjs, fed one frame at a time. A
// 1920x1080 frame takes tens of milliseconds to filter and deflate, which the guests' rings must
// not wait for. Snapshots and the viewer share it; the viewer asks for fast compression.
import { Worker } from 'node:worker_threads';
import type { Frame } from '../../drm/output.js';
import type { EncodeAnswer, EncodeRequest } from './png-worker.js';

export interface EncodeOptions {
  /** zlib level 0..9; the viewer uses 1 (speed), snapshots the default 6. */
  readonly deflateLevel?: number;
}

interface Job {
  readonly id: number;
  resolve(png: Buffer): void;
  reject(err: Error): void;
}

/**
 * The worker, from its module beside this one: png-worker.js where this file is compiled JavaScript
 * (tsc's tree, where the build puts a bundled png-worker.js with pngjs inside). From the sources
 * under tsx (tests, `node --import tsx src/main.ts`) it is png-worker.ts, and as Node 20 does not
 * carry --import's loader into a worker thread, the worker registers tsx itself first.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./png-worker.js', here));
  // Spelled apart: the build rewrites every import( whose argument is not a literal (scripts/bundle.ts).
  const load = (url: string): string => ['imp', 'ort(', JSON.stringify(url), ')'].join('');
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL('./png-worker.ts', here).href;
  return new Worker(`${load(tsx)}.then((m) => m.register()).then(() => ${load(worker)});`, { eval: true });
}

export class PngEncoder {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private closed = false;

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
      const req: EncodeRequest = {
        id,
        width: frame.width,
        height: frame.height,
        rgba,
        deflateLevel: opts.deflateLevel ?? 6,
      };
      w.postMessage(req, [rgba]);
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
    const w = startWorker();
    // An idle encoder must not keep a finishing process alive.
    w.unref();
    w.on('message', (m: EncodeAnswer) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if ('png' in m) job.resolve(Buffer.from(m.png));
      else job.reject(new Error(`png encoding failed: ${m.error}`));
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
