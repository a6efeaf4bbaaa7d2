// The client side of the control socket, for `vdispld status` and `vdispld snapshot`: one request,
// one bounded answer, a deadline, and errors that say what to do.
import { connect } from 'node:net';
import { MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES, encodeLine, type ControlRequest } from './protocol.js';

export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface ControlAnswer {
  readonly header: Record<string, unknown>;
  readonly payload: Buffer | undefined;
}

function explain(path: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return `no vdispld is listening on ${path} (is the daemon running? set the path with --socket or VDISPLD_CONTROL_SOCKET)`;
    case 'EACCES':
      return `${path}: permission denied (the control socket is root-only; run as root)`;
    default:
      return `${path}: ${err.message}`;
  }
}

export function controlRequest(path: string, req: ControlRequest, timeoutMs = 10_000): Promise<ControlAnswer> {
  return new Promise<ControlAnswer>((resolve, reject) => {
    const s = connect(path);
    let buf: Buffer = Buffer.alloc(0);
    let header: Record<string, unknown> | undefined;
    let want = 0;
    let settled = false;
    const finish = (err: Error | undefined, answer?: ControlAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new ControlError(`${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    s.once('connect', () => s.write(encodeLine(req)));
    s.on('error', (err: NodeJS.ErrnoException) => finish(new ControlError(explain(path, err))));
    s.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (!header) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > MAX_HEADER_BYTES) finish(new ControlError(`${path}: answer header too long`));
          return;
        }
        try {
          header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
        } catch {
          // Reported to the caller as what it means for them.
          finish(new ControlError(`${path}: the answer is not JSON (is this a vdispld control socket?)`));
          return;
        }
        buf = buf.subarray(nl + 1);
        if (header['ok'] !== true) {
          finish(
            new ControlError(`vdispld: ${typeof header['error'] === 'string' ? header['error'] : 'request failed'}`),
          );
          return;
        }
        const snap = header['snapshot'] as { bytes?: unknown } | undefined;
        want = typeof snap?.bytes === 'number' ? snap.bytes : 0;
        if (!(want >= 0 && want <= MAX_PAYLOAD_BYTES && Number.isInteger(want))) {
          finish(new ControlError(`${path}: bad payload length`));
          return;
        }
      }
      if (buf.length >= want) finish(undefined, { header, payload: want > 0 ? buf.subarray(0, want) : undefined });
    });
    s.once('end', () => {
      if (!header) finish(new ControlError(`${path}: the daemon closed the connection without answering`));
      else finish(new ControlError(`${path}: answer cut short (${buf.length} of ${want} bytes)`));
    });
  });
}
