// EDID synthesis for GET_EDID: one EDID 1.4 base block describing a connector whose only mode is
// its XenStore resolution at 60 Hz, so a guest that reads the EDID sees exactly the mode the
// frontend would otherwise synthesise. Timings follow VESA CVT reduced blanking (v1), which keeps
// the pixel clock low enough for the detailed timing descriptor up to the Linux frontend's limits.
import { EDID_BLOCK_SIZE } from './constants.js';

export interface EdidOptions {
  readonly width: number;
  readonly height: number;
  /** Three letters A-Z, the PNP manufacturer id. */
  readonly manufacturer?: string;
  readonly productCode?: number;
  /** 32-bit serial number; give each connector its own so a guest can tell them apart. */
  readonly serial?: number;
  /** Up to 13 printable ASCII characters. */
  readonly productName?: string;
  /** Year of manufacture, 1990..2245. Fixed by default so the bytes are reproducible. */
  readonly year?: number;
  /** Pixel density assumed for the physical size fields. */
  readonly dpi?: number;
}

export interface DetailedTiming {
  /** In units of 10 kHz, as the descriptor stores it. */
  readonly pixelClock10kHz: number;
  readonly hActive: number;
  readonly hFront: number;
  readonly hSync: number;
  readonly hBack: number;
  readonly vActive: number;
  readonly vFront: number;
  readonly vSync: number;
  readonly vBack: number;
  readonly hSyncPositive: boolean;
  readonly vSyncPositive: boolean;
}

export const EDID_DEFAULTS = {
  manufacturer: 'XVD',
  productCode: 0x0001,
  serial: 0,
  productName: 'vdispld',
  year: 2025,
  dpi: 96,
} as const;

/** Limits of the base block's detailed timing descriptor (12-bit sizes, 16-bit clock). */
export const DTD_MAX_ACTIVE = 4095;
export const DTD_MAX_PIXEL_CLOCK_10KHZ = 0xffff;
const DTD_MAX_BLANK = 4095;
const MIN_PIXEL_CLOCK_HZ = 10_000_000;
/** Smallest physical side reported: tools take anything under 10 cm for a broken EDID. */
const MIN_SIDE_MM = 100;
const MAX_SIDE_MM = 2550;

/** Frame rate a detailed timing produces, in Hz. */
export function refreshRate(t: DetailedTiming): number {
  const hTotal = t.hActive + t.hFront + t.hSync + t.hBack;
  const vTotal = t.vActive + t.vFront + t.vSync + t.vBack;
  return (t.pixelClock10kHz * 10_000) / (hTotal * vTotal);
}

/** CVT v1.2 vertical sync width by aspect ratio; 10 lines marks a non-standard aspect. */
function cvtVSync(w: number, h: number): number {
  if (w * 3 === h * 4) return 4;
  if (w * 9 === h * 16) return 5;
  if (w * 10 === h * 16) return 6;
  if (w * 4 === h * 5 || w * 9 === h * 15) return 7;
  return 10;
}

/**
 * CVT reduced-blanking timing for `width` x `height` at 60 Hz, keeping the active size exact (the
 * frontend's mode is exactly the XenStore resolution, even when not a multiple of 8).
 */
export function cvtReducedBlanking(width: number, height: number): DetailedTiming {
  const refresh = 60;
  const minVBlankUs = 460;
  const hBlank = 160;
  const hSync = 32;
  const hFront = 48;
  const vFront = 3;
  const minVBack = 6;
  const vSync = cvtVSync(width, height);
  const hPeriodUs = (1_000_000 / refresh - minVBlankUs) / height;
  const vbi = Math.max(Math.floor(minVBlankUs / hPeriodUs) + 1, vFront + vSync + minVBack);
  let hBack = hBlank - hFront - hSync;
  let vBack = vbi - vFront - vSync;
  // Descriptors below 10 MHz read as invalid data, so small modes get longer blanking (first
  // horizontal, then vertical, within the 12-bit fields) until 60 Hz needs at least 10 MHz.
  const minTotal = Math.ceil(MIN_PIXEL_CLOCK_HZ / refresh);
  let hTotal = width + hBlank;
  let vTotal = height + vbi;
  if (hTotal * vTotal < minTotal) {
    const wantH = Math.min(width + DTD_MAX_BLANK, Math.ceil(minTotal / vTotal));
    hBack += wantH - hTotal;
    hTotal = wantH;
    if (hTotal * vTotal < minTotal) {
      const wantV = Math.ceil(minTotal / hTotal);
      vBack += wantV - vTotal;
      vTotal = wantV;
    }
  }
  // CVT rounds the clock down to 0.25 MHz, which costs small modes up to 1% of their rate; the
  // descriptor's own 10 kHz unit keeps every mode within 0.01% of the 60 Hz the frontend assumes.
  const clock = Math.round((refresh * hTotal * vTotal) / 10_000);
  return {
    pixelClock10kHz: clock,
    hActive: width,
    hFront,
    hSync,
    hBack,
    vActive: height,
    vFront,
    vSync,
    vBack,
    hSyncPositive: true,
    vSyncPositive: false,
  };
}

function checkOptions(o: EdidOptions): Required<EdidOptions> {
  const r = { ...EDID_DEFAULTS, ...o };
  const int = (n: number, lo: number, hi: number, what: string): void => {
    if (!Number.isInteger(n) || n < lo || n > hi) throw new RangeError(`buildEdid: ${what} ${n} outside ${lo}..${hi}`);
  };
  int(r.width, 1, DTD_MAX_ACTIVE, 'width');
  int(r.height, 1, DTD_MAX_ACTIVE, 'height');
  int(r.productCode, 0, 0xffff, 'product code');
  int(r.serial, 0, 0xffffffff, 'serial');
  int(r.year, 1990, 2245, 'year');
  if (!(r.dpi > 0)) throw new RangeError('buildEdid: dpi must be positive');
  if (!/^[A-Z]{3}$/.test(r.manufacturer))
    throw new RangeError(`buildEdid: manufacturer ${JSON.stringify(r.manufacturer)} is not three letters A-Z`);
  if (!/^[\x20-\x7e]{1,13}$/.test(r.productName))
    throw new RangeError('buildEdid: product name must be 1..13 printable ASCII characters');
  return r;
}

function writeDetailedTiming(b: Uint8Array, o: number, t: DetailedTiming, widthMm: number, heightMm: number): void {
  const hBlank = t.hFront + t.hSync + t.hBack;
  const vBlank = t.vFront + t.vSync + t.vBack;
  b[o] = t.pixelClock10kHz & 0xff;
  b[o + 1] = t.pixelClock10kHz >>> 8;
  b[o + 2] = t.hActive & 0xff;
  b[o + 3] = hBlank & 0xff;
  b[o + 4] = ((t.hActive >>> 8) << 4) | (hBlank >>> 8);
  b[o + 5] = t.vActive & 0xff;
  b[o + 6] = vBlank & 0xff;
  b[o + 7] = ((t.vActive >>> 8) << 4) | (vBlank >>> 8);
  b[o + 8] = t.hFront & 0xff;
  b[o + 9] = t.hSync & 0xff;
  b[o + 10] = ((t.vFront & 0x0f) << 4) | (t.vSync & 0x0f);
  b[o + 11] = ((t.hFront >>> 8) << 6) | ((t.hSync >>> 8) << 4) | ((t.vFront >>> 4) << 2) | (t.vSync >>> 4);
  b[o + 12] = widthMm & 0xff;
  b[o + 13] = heightMm & 0xff;
  b[o + 14] = ((widthMm >>> 8) << 4) | (heightMm >>> 8);
  b[o + 15] = 0;
  b[o + 16] = 0;
  // Non-interlaced, no stereo, digital separate sync, with the polarities CVT-RB prescribes.
  b[o + 17] = 0x18 | (t.vSyncPositive ? 0x04 : 0) | (t.hSyncPositive ? 0x02 : 0);
}

/** Display descriptor with a text payload: 13 bytes, ended by a line feed and padded with spaces. */
function writeTextDescriptor(b: Uint8Array, o: number, tag: number, text: string): void {
  b.fill(0, o, o + 18);
  b[o + 3] = tag;
  const payload = text.length < 13 ? `${text}\n`.padEnd(13, ' ') : text;
  for (let i = 0; i < 13; i++) b[o + 5 + i] = payload.charCodeAt(i);
}

function writeRangeLimits(b: Uint8Array, o: number, t: DetailedTiming): void {
  const hTotal = t.hActive + t.hFront + t.hSync + t.hBack;
  const hRateKHz = (t.pixelClock10kHz * 10) / hTotal;
  const vRate = refreshRate(t);
  b.fill(0, o, o + 18);
  b[o + 3] = 0xfd;
  b[o + 5] = Math.max(1, Math.floor(vRate) - 1);
  b[o + 6] = Math.ceil(vRate) + 1;
  b[o + 7] = Math.max(1, Math.floor(hRateKHz) - 1);
  b[o + 8] = Math.min(255, Math.ceil(hRateKHz) + 1);
  b[o + 9] = Math.max(1, Math.ceil(t.pixelClock10kHz / 1000));
  b[o + 10] = 0x01; // Range limits only: no formula-based timings.
  b[o + 11] = 0x0a;
  b.fill(0x20, o + 12, o + 18);
}

/** Sets the last byte of the 128-byte block at `o` so the block sums to 0 mod 256. */
function seal(b: Uint8Array, o: number): void {
  let sum = 0;
  for (let i = 0; i < EDID_BLOCK_SIZE - 1; i++) sum += b[o + i]!;
  b[o + EDID_BLOCK_SIZE - 1] = (256 - (sum % 256)) % 256;
}

/** sRGB primaries and white point as 10-bit EDID chromaticity values, in the block's order. */
function writeSrgbChromaticity(b: Uint8Array, o: number): void {
  const v = (x: number): number => Math.round(x * 1024);
  const [rx, ry, gx, gy, bx, by, wx, wy] = [0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329].map(v) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  b[o] = ((rx & 3) << 6) | ((ry & 3) << 4) | ((gx & 3) << 2) | (gy & 3);
  b[o + 1] = ((bx & 3) << 6) | ((by & 3) << 4) | ((wx & 3) << 2) | (wy & 3);
  [rx, ry, gx, gy, bx, by, wx, wy].forEach((c, i) => (b[o + 2 + i] = c >>> 2));
}

/**
 * An EDID 1.4 base block for a display whose preferred (and native) mode is width x height at
 * 60 Hz. Sizes beyond the descriptor's 4095 are refused: no Linux frontend can use them.
 */
export function buildEdid(options: EdidOptions): Uint8Array {
  const o = checkOptions(options);
  const t = cvtReducedBlanking(o.width, o.height);
  if (t.pixelClock10kHz > DTD_MAX_PIXEL_CLOCK_10KHZ)
    throw new RangeError(`buildEdid: ${o.width}x${o.height} needs a pixel clock beyond the detailed timing descriptor`);
  const b = new Uint8Array(EDID_BLOCK_SIZE);
  b.set([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00], 0);
  const m = [...o.manufacturer].map((c) => c.charCodeAt(0) - 64);
  const mfg = (m[0]! << 10) | (m[1]! << 5) | m[2]!;
  b[8] = mfg >>> 8;
  b[9] = mfg & 0xff;
  b[10] = o.productCode & 0xff;
  b[11] = o.productCode >>> 8;
  b[12] = o.serial & 0xff;
  b[13] = (o.serial >>> 8) & 0xff;
  b[14] = (o.serial >>> 16) & 0xff;
  b[15] = o.serial >>> 24;
  b[16] = 0; // Week unspecified.
  b[17] = o.year - 1990;
  b[18] = 1;
  b[19] = 4;
  b[20] = 0x80 | (2 << 4); // Digital input, 8 bits per colour, interface not specified.
  // A small mode at the nominal density would be a few millimetres wide; lower the density instead.
  const mmPerPx = Math.max(25.4 / o.dpi, MIN_SIDE_MM / Math.min(o.width, o.height));
  // Each side within what both size fields can say (cm in one byte, mm in 12 bits), so they agree.
  const sideMm = (px: number): number => Math.min(MAX_SIDE_MM, Math.max(MIN_SIDE_MM, Math.round(px * mmPerPx)));
  const widthMm = sideMm(o.width);
  const heightMm = sideMm(o.height);
  b[21] = Math.round(widthMm / 10);
  b[22] = Math.round(heightMm / 10);
  b[23] = 120; // Gamma 2.2.
  b[24] = 0x06; // RGB 4:4:4, sRGB default colour space, preferred timing is the native mode.
  writeSrgbChromaticity(b, 25);
  // 35..37: no established timings. 38..53: all eight standard timings unused.
  for (let i = 38; i < 54; i++) b[i] = 0x01;
  writeDetailedTiming(b, 54, t, widthMm, heightMm);
  writeRangeLimits(b, 72, t);
  writeTextDescriptor(b, 90, 0xfc, o.productName);
  writeTextDescriptor(b, 108, 0xff, o.serial.toString(16).toUpperCase().padStart(8, '0'));
  b[126] = 0;
  seal(b, 0);
  return b;
}

/** Whether every 128-byte block of `edid` sums to zero. */
export function edidChecksumsOk(edid: Uint8Array): boolean {
  if (edid.length === 0 || edid.length % EDID_BLOCK_SIZE !== 0) return false;
  for (let o = 0; o < edid.length; o += EDID_BLOCK_SIZE) {
    let sum = 0;
    for (let i = 0; i < EDID_BLOCK_SIZE; i++) sum += edid[o + i]!;
    if (sum % 256 !== 0) return false;
  }
  return true;
}

/** The first detailed timing of a base block (the preferred mode), for frontends reading GET_EDID results. */
export function preferredTiming(edid: Uint8Array): DetailedTiming | undefined {
  if (edid.length < EDID_BLOCK_SIZE || !edidChecksumsOk(edid.subarray(0, EDID_BLOCK_SIZE))) return undefined;
  const o = 54;
  const clock = edid[o]! | (edid[o + 1]! << 8);
  if (clock === 0) return undefined;
  const hActive = edid[o + 2]! | ((edid[o + 4]! >>> 4) << 8);
  const hBlank = edid[o + 3]! | ((edid[o + 4]! & 0x0f) << 8);
  const vActive = edid[o + 5]! | ((edid[o + 7]! >>> 4) << 8);
  const vBlank = edid[o + 6]! | ((edid[o + 7]! & 0x0f) << 8);
  const hFront = edid[o + 8]! | ((edid[o + 11]! >>> 6) << 8);
  const hSync = edid[o + 9]! | (((edid[o + 11]! >>> 4) & 3) << 8);
  const vFront = (edid[o + 10]! >>> 4) | (((edid[o + 11]! >>> 2) & 3) << 4);
  const vSync = (edid[o + 10]! & 0x0f) | ((edid[o + 11]! & 3) << 4);
  return {
    pixelClock10kHz: clock,
    hActive,
    hFront,
    hSync,
    hBack: hBlank - hFront - hSync,
    vActive,
    vFront,
    vSync,
    vBack: vBlank - vFront - vSync,
    hSyncPositive: (edid[o + 17]! & 0x02) !== 0,
    vSyncPositive: (edid[o + 17]! & 0x04) !== 0,
  };
}
