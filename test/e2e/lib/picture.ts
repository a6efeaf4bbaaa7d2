// Pictures the harness compares: QEMU's screendumps (binary PPM) and PNGs (vdispld snapshot), as RGB.
import { readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

export interface Rgb {
  width: number;
  height: number;
  /** 3 bytes per pixel, rows packed. */
  data: Uint8Array;
}

export type Pixel = readonly [number, number, number];

export function pixel(img: Rgb, x: number, y: number): Pixel {
  const o = (y * img.width + x) * 3;
  return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
}

/** Binary PPM (P6, maxval 255), as QEMU's screendump writes it. */
export function decodePpm(buf: Uint8Array): Rgb {
  const fields: string[] = [];
  let i = 0;
  while (fields.length < 4) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]!))) i++;
    if (buf[i] === 0x23) {
      while (i < buf.length && buf[i] !== 0x0a) i++;
      continue;
    }
    let tok = '';
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]!))) tok += String.fromCharCode(buf[i++]!);
    if (!tok) throw new Error('truncated PPM header');
    fields.push(tok);
  }
  i++; // the single whitespace byte after maxval
  const [magic, w, h, max] = fields;
  const width = Number(w);
  const height = Number(h);
  if (magic !== 'P6' || max !== '255' || !(width > 0) || !(height > 0))
    throw new Error(`unsupported PPM: ${fields.join(' ')}`);
  const data = buf.subarray(i, i + width * height * 3);
  if (data.length !== width * height * 3) throw new Error('truncated PPM data');
  return { width, height, data };
}

export function readPpm(path: string): Rgb {
  return decodePpm(readFileSync(path));
}

export function readPng(path: string): Rgb {
  const png = PNG.sync.read(readFileSync(path));
  const data = new Uint8Array(png.width * png.height * 3);
  for (let p = 0; p < png.width * png.height; p++) {
    data[p * 3] = png.data[p * 4]!;
    data[p * 3 + 1] = png.data[p * 4 + 1]!;
    data[p * 3 + 2] = png.data[p * 4 + 2]!;
  }
  return { width: png.width, height: png.height, data };
}

export function writePng(path: string, img: Rgb): void {
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.width * img.height; p++) {
    png.data[p * 4] = img.data[p * 3]!;
    png.data[p * 4 + 1] = img.data[p * 3 + 1]!;
    png.data[p * 4 + 2] = img.data[p * 3 + 2]!;
    png.data[p * 4 + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
}
