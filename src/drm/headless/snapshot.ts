// PNG snapshots of a frame, through pngjs (a maintained encoder: zlib, CRCs and filters are not
// ours to get wrong).
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import type { Frame } from '../output.js';

export function encodePng(frame: Frame): Buffer {
  const png = new PNG({ width: frame.width, height: frame.height, colorType: 6, inputHasAlpha: true });
  Buffer.from(frame.rgba.buffer, frame.rgba.byteOffset, frame.rgba.byteLength).copy(png.data);
  return PNG.sync.write(png, { colorType: 6 });
}

export function writePng(path: string, frame: Frame): void {
  writeFileSync(path, encodePng(frame));
}

/** Decodes a PNG back to RGBA (tests, and tools comparing snapshots). */
export function decodePng(data: Buffer): { width: number; height: number; rgba: Uint8Array } {
  const png = PNG.sync.read(data);
  return {
    width: png.width,
    height: png.height,
    rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
  };
}

/** A file-name-safe form of an output name ("dom1/0/id0" → "dom1_0_id0"). */
export function snapshotFileName(outputName: string): string {
  return `${outputName.replace(/[^A-Za-z0-9._-]/g, '_')}.png`;
}
