// The control socket's protocol: the client sends one JSON line, the daemon answers with one JSON
// line, optionally followed by a binary payload whose length the line states (a snapshot's PNG),
// and closes. One exchange per connection keeps both ends small and every read bounded. Pure.
import type { StatusReport } from '../status/status-report.js';

export const PROTOCOL_VERSION = 1;
export const MAX_REQUEST_BYTES = 4096;
export const MAX_HEADER_BYTES = 1 << 20;
export const MAX_PAYLOAD_BYTES = 256 << 20;

export type ControlRequest =
  | { readonly v: typeof PROTOCOL_VERSION; readonly cmd: 'status' }
  | { readonly v: typeof PROTOCOL_VERSION; readonly cmd: 'snapshot'; readonly target: string };

export type ControlResponse =
  | { readonly ok: true; readonly status: StatusReport }
  | { readonly ok: true; readonly snapshot: SnapshotHeader }
  | { readonly ok: false; readonly error: string };

export interface SnapshotHeader {
  readonly target: string;
  readonly output: string;
  readonly width: number;
  readonly height: number;
  readonly sequence: number;
  readonly type: 'image/png';
  /** Bytes of PNG that follow the header line. */
  readonly bytes: number;
}

/** A connector: its index (0..3) or its unique-id. */
export type ConnectorRef = { readonly index: number } | { readonly uniqueId: string };

/**
 * `DOMID/DEV/CONN`: CONN is the connector's index (0..3) or its unique-id, as `vdispld status`
 * lists both.
 */
export function parseTarget(s: string): { domid: number; devId: number; conn: ConnectorRef } | undefined {
  const m = /^(\d{1,5})\/(\d{1,9})\/([\x21-\x2e\x30-\x7e]{1,64})$/.exec(s);
  if (!m) return undefined;
  const domid = Number(m[1]);
  const devId = Number(m[2]);
  if (domid > 0x7fef) return undefined;
  const c = m[3]!;
  if (/^\d+$/.test(c)) return Number(c) <= 3 ? { domid, devId, conn: { index: Number(c) } } : undefined;
  return { domid, devId, conn: { uniqueId: c } };
}

/** Validates a request line; an error string names what is wrong. */
export function decodeRequest(line: string): ControlRequest | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    // The client is told; the parser's message adds nothing for it.
    return { error: 'request is not JSON' };
  }
  if (v === null || typeof v !== 'object') return { error: 'request is not an object' };
  const r = v as Record<string, unknown>;
  if (r['v'] !== PROTOCOL_VERSION)
    return { error: `protocol version ${JSON.stringify(r['v'])} unsupported (this daemon speaks ${PROTOCOL_VERSION})` };
  if (r['cmd'] === 'status') return { v: PROTOCOL_VERSION, cmd: 'status' };
  if (r['cmd'] === 'snapshot') {
    const t = r['target'];
    if (typeof t !== 'string' || !parseTarget(t))
      return { error: 'snapshot target must be DOMID/DEV/CONN (connector index or unique-id), e.g. 1/0/0' };
    return { v: PROTOCOL_VERSION, cmd: 'snapshot', target: t };
  }
  return { error: `unknown command ${JSON.stringify(String(r['cmd']).slice(0, 32))}` };
}

export function encodeLine(v: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(v)}\n`, 'utf8');
}
