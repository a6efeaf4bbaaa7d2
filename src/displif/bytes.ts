// Little-endian field access on plain byte arrays. Every displif host is little-endian (x86, Arm),
// and the header's structs are native-endian, so the wire is little-endian in practice; these
// helpers make that explicit instead of depending on DataView defaults or the host.

export function readU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function readI32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

// One u64 cell seen as two u32 halves: converting a cookie to and from its halves through it
// allocates no intermediate BigInts (shifts and masks made four per conversion, a measured share of
// the request path's garbage).
const CELL64 = new BigUint64Array(1);
const CELL32 = new Uint32Array(CELL64.buffer);
const LOW = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HIGH = 1 - LOW;

/** The u64 whose low and high 32-bit halves are `lo` and `hi`. */
export function u64FromHalves(lo: number, hi: number): bigint {
  CELL32[LOW] = lo;
  CELL32[HIGH] = hi;
  return CELL64[0]!;
}

export function readU64(b: Uint8Array, o: number): bigint {
  return u64FromHalves(readU32(b, o), readU32(b, o + 4));
}

/** True when the u64 at `o` is zero; avoids a BigInt on the common rejection path. */
export function isZeroU64(b: Uint8Array, o: number): boolean {
  return readU32(b, o) === 0 && readU32(b, o + 4) === 0;
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Writes the low 64 bits of `v` (as BigUint64Array stores do: wrapped modulo 2^64). */
export function writeU64(b: Uint8Array, o: number, v: bigint): void {
  CELL64[0] = v;
  writeU32(b, o, CELL32[LOW]!);
  writeU32(b, o + 4, CELL32[HIGH]!);
}

/** True when every byte in [from, to) is zero. */
export function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** The host stores integers little-endian (checked once: the native ring accessors read native order). */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
