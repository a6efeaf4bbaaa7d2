// The PNG encoder's worker thread (png-encoder.ts starts it): one frame per message, encoded with
// pngjs, the PNG sent back as a transferred buffer. A module of its own so that the build can
// bundle it with pngjs inside (scripts/bundle.ts): the daemon as shipped then needs no pngjs at
// run time, and the same file runs from src/ under tsx.
import { parentPort } from 'node:worker_threads';
import { PNG } from 'pngjs';

export interface EncodeRequest {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly rgba: ArrayBuffer;
  readonly deflateLevel: number;
}

export type EncodeAnswer =
  { readonly id: number; readonly png: ArrayBuffer } | { readonly id: number; readonly error: string };

parentPort?.on('message', (m: EncodeRequest) => {
  try {
    const png = new PNG({ width: m.width, height: m.height, colorType: 6, inputHasAlpha: true });
    png.data = Buffer.from(m.rgba);
    const out = PNG.sync.write(png, { colorType: 6, deflateLevel: m.deflateLevel });
    const ab = out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
    parentPort!.postMessage({ id: m.id, png: ab } satisfies EncodeAnswer, [ab]);
  } catch (err) {
    parentPort!.postMessage({
      id: m.id,
      error: err instanceof Error ? err.message : String(err),
    } satisfies EncodeAnswer);
  }
});
