// The viewer's frame message on the WebSocket: a 4-byte big-endian length, a JSON header (which
// connector, which frame, its size) and the PNG. Pure; the page has its own reader of the same.

export interface FrameHeader {
  readonly key: string;
  readonly sequence: number;
  readonly width: number;
  readonly height: number;
}

export function encodeFrameMessage(h: FrameHeader, png: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json, png]);
}

export function decodeFrameMessage(buf: Buffer): { header: FrameHeader; png: Buffer } {
  if (buf.length < 4) throw new RangeError('frame message shorter than its length field');
  const n = buf.readUInt32BE(0);
  if (4 + n > buf.length) throw new RangeError('frame message header overruns the message');
  return { header: JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as FrameHeader, png: buf.subarray(4 + n) };
}
