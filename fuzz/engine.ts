// The fuzzing loop, libFuzzer-style: keep a corpus of inputs, mutate one (bit and byte flips,
// protocol-interesting integers, chunk copies, inserts, erases, splices with another input), run
// the target, and keep the mutant when it reached a branch arm, statement or hit-count bucket no
// input reached before. A thrown error is a finding: the input is returned (and saved) as it is.
import { createHash } from 'node:crypto';
import type { FileCounters } from './instrument.js';

export interface FuzzOptions {
  readonly seconds: number;
  readonly seed: number;
  readonly maxLen: number;
  /** Inputs made of these constants are tried often (op codes, limits, FourCCs). */
  readonly dictionary: readonly number[];
}

export interface FuzzOutcome {
  execs: number;
  /** Inputs that added coverage (new corpus entries). */
  added: Uint8Array[];
  features: number;
  finding?: { input: Uint8Array; error: string };
}

/** Hit counts bucketed as libFuzzer does: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+. */
function bucket(n: number): number {
  if (n < 4) return n;
  if (n < 8) return 4;
  if (n < 16) return 5;
  if (n < 32) return 6;
  if (n < 128) return 7;
  return 8;
}

/** Collects this run's features into `seen`, returns how many were new, and zeroes the counters. */
export function harvest(counters: Record<string, FileCounters>, seen: Set<number>): number {
  let fresh = 0;
  let fileNo = 0;
  for (const file of Object.keys(counters).sort()) {
    const c = counters[file]!;
    fileNo++;
    for (const k in c.b) {
      const arms = c.b[k]!;
      for (let a = 0; a < arms.length; a++) {
        const n = arms[a]!;
        if (n === 0) continue;
        arms[a] = 0;
        const f = (((fileNo * 4096 + Number(k)) * 16 + a) * 16 + bucket(n)) * 2;
        if (!seen.has(f)) {
          seen.add(f);
          fresh++;
        }
      }
    }
    for (const k in c.s) {
      const n = c.s[k]!;
      if (n === 0) continue;
      c.s[k] = 0;
      const f = ((fileNo * 65536 + Number(k)) * 16 + bucket(n)) * 2 + 1;
      if (!seen.has(f)) {
        seen.add(f);
        fresh++;
      }
    }
    for (const k in c.f) c.f[k] = 0;
  }
  return fresh;
}

/** Branch arms reached (any hit count) among `seen`, and arms in all instrumented files. */
export function armCoverage(
  seen: ReadonlySet<number>,
  counters: Record<string, FileCounters>,
): { reached: number; total: number } {
  const arms = new Set<number>();
  for (const f of seen) if (f % 2 === 0) arms.add(Math.floor(f / 32));
  let total = 0;
  for (const c of Object.values(counters)) for (const k in c.b) total += c.b[k]!.length;
  return { reached: arms.size, total };
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function mutate(
  input: Uint8Array,
  other: Uint8Array | undefined,
  rnd: () => number,
  o: FuzzOptions,
): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input.length ? input : [0]);
  const rounds = 1 + (rnd() % 4);
  for (let i = 0; i < rounds; i++) {
    const pos = rnd() % Math.max(1, b.length);
    switch (rnd() % 9) {
      case 0:
        b[pos] = b[pos]! ^ (1 << (rnd() & 7));
        break;
      case 1:
        b[pos] = rnd() & 0xff;
        break;
      case 2: {
        // An interesting integer, little-endian, 1, 2 or 4 bytes wide.
        const v = o.dictionary[rnd() % o.dictionary.length]! + [0, 0, 1, -1][rnd() & 3]!;
        const w = [1, 2, 4][rnd() % 3]!;
        for (let k = 0; k < w && pos + k < b.length; k++) b[pos + k] = (v >>> (8 * k)) & 0xff;
        break;
      }
      case 3: {
        const len = 1 + (rnd() % 16);
        const from = rnd() % Math.max(1, b.length);
        b.copyWithin(pos, from, from + len);
        break;
      }
      case 4:
        if (b.length < o.maxLen) {
          const len = 1 + (rnd() % 16);
          const ins = new Uint8Array(len).map(() => (rnd() & 1 ? rnd() & 0xff : b[pos]!));
          b = concat(b.subarray(0, pos), ins, b.subarray(pos));
        }
        break;
      case 5:
        if (b.length > 1) b = concat(b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + (rnd() % 16))));
        break;
      case 6:
        if (other && other.length) {
          const cut = rnd() % other.length;
          b = concat(b.subarray(0, pos), other.subarray(cut));
        }
        break;
      case 7:
        b[pos] = [0, 0xff, 0x7f, 0x80][rnd() & 3]!;
        break;
      default: {
        const v = rnd();
        for (let k = 0; k < 4 && pos + k < b.length; k++) b[pos + k] = (v >>> (8 * k)) & 0xff;
      }
    }
  }
  return b.length > o.maxLen ? b.subarray(0, o.maxLen) : b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Runs `corpus` once (a regression pass: any finding there fails at once), then mutates for
 * `o.seconds`. `seen` holds the features reached so far and grows.
 */
export function fuzz(
  run: (input: Uint8Array) => void,
  counters: () => Record<string, FileCounters>,
  corpus: Uint8Array[],
  seen: Set<number>,
  o: FuzzOptions,
): FuzzOutcome {
  const out: FuzzOutcome = { execs: 0, added: [], features: 0 };
  const rnd = xorshift(o.seed);
  const exec = (input: Uint8Array): boolean => {
    out.execs++;
    try {
      run(input);
    } catch (err) {
      harvest(counters(), seen);
      out.finding = {
        input,
        error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err),
      };
      return false;
    }
    return true;
  };
  for (const c of corpus) {
    if (!exec(c)) return out;
    harvest(counters(), seen);
  }
  if (corpus.length === 0) corpus.push(new Uint8Array(64));
  const end = Date.now() + o.seconds * 1000;
  while (Date.now() < end) {
    for (let i = 0; i < 256; i++) {
      // Newer inputs reached newer code: pick them a little more often.
      const k = rnd() % corpus.length;
      const pickIdx = rnd() & 1 ? k : corpus.length - 1 - (k >> 1);
      const input = mutate(corpus[pickIdx]!, corpus[rnd() % corpus.length], rnd, o);
      if (!exec(input)) return out;
      if (harvest(counters(), seen) > 0) {
        corpus.push(input);
        out.added.push(input);
      }
    }
  }
  out.features = seen.size;
  return out;
}

export function inputName(input: Uint8Array): string {
  return createHash('sha1').update(input).digest('hex').slice(0, 16);
}
