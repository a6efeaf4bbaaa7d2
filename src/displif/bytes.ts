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

export function readU64(b: Uint8Array, o: number): bigint {
  return (BigInt(readU32(b, o + 4)) << 32n) | BigInt(readU32(b, o));
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

export function writeU64(b: Uint8Array, o: number, v: bigint): void {
  writeU32(b, o, Number(v & 0xffffffffn));
  writeU32(b, o + 4, Number((v >> 32n) & 0xffffffffn));
}

/** True when every byte in [from, to) is zero. */
export function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** The host stores integers little-endian (checked once: the native ring accessors read native order). */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
