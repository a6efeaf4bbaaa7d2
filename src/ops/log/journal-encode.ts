// journald's native protocol: one datagram per entry, each field `NAME=value\n`, or, for a value
// that holds a newline, `NAME\n` + the value's length as a little-endian 64-bit integer + the
// value + `\n`. Pure.
import type { JournalField } from './journal-fields.js';

const NAME_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function encodeEntry(fields: readonly JournalField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (!NAME_RE.test(name)) throw new RangeError(`journal field name ${JSON.stringify(name)} is not [A-Z][A-Z0-9_]*`);
    const v = Buffer.from(value, 'utf8');
    if (!v.includes(0x0a)) {
      parts.push(Buffer.from(`${name}=`, 'ascii'), v, Buffer.from('\n'));
      continue;
    }
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(v.length));
    parts.push(Buffer.from(`${name}\n`, 'ascii'), len, v, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** The inverse, for tests and for reading what a fake journald received. */
export function decodeEntry(buf: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < buf.length) {
    const nl = buf.indexOf(0x0a, i);
    if (nl < 0) throw new RangeError('journal entry: field without a newline');
    const line = buf.subarray(i, nl).toString('utf8');
    const eq = line.indexOf('=');
    if (eq >= 0) {
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
      i = nl + 1;
      continue;
    }
    const len = Number(buf.readBigUInt64LE(nl + 1));
    const start = nl + 9;
    out.push([line, buf.subarray(start, start + len).toString('utf8')]);
    if (buf[start + len] !== 0x0a) throw new RangeError('journal entry: binary field not followed by a newline');
    i = start + len + 1;
  }
  return out;
}
