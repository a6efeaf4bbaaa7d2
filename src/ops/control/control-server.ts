// The control socket: a unix stream socket readable and writable by root only (created under a
// 0177 umask, then chmod 0600 for good measure, in a 0700 runtime directory under systemd). A
// stale socket left by a killed daemon is replaced; a live one (another daemon answering) or any
// other file at the path is an error, never deleted.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { MAX_REQUEST_BYTES, decodeRequest, encodeLine, type ControlRequest } from './protocol.js';

export type ControlReply = { readonly header: object; readonly payload?: Buffer } | { readonly error: string };

export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

/** A client that sends nothing, or reads nothing, is dropped after this. */
const IDLE_MS = 10_000;
const MAX_CLIENTS = 16;

async function pathInUse(path: string): Promise<'free' | 'stale' | 'live' | 'not-a-socket'> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'free';
    throw err;
  }
  if (!st.isSocket()) return 'not-a-socket';
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', () => resolve('stale'));
  });
}

export class ControlServer {
  private readonly clients = new Set<Socket>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, handler: ControlHandler): Promise<ControlServer> {
    const state = await pathInUse(path);
    if (state === 'live') throw new Error(`control socket ${path}: another vdispld is answering there`);
    if (state === 'not-a-socket')
      throw new Error(
        `control socket ${path}: exists and is not a socket; remove it or choose another --control-socket`,
      );
    if (state === 'stale') unlinkSync(path);
    // Under systemd the unit's RuntimeDirectory exists already (0700); started by hand, make it.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const server = createServer();
    const cs = new ControlServer(server, path);
    server.on('connection', (s) => cs.serve(s, handler));
    server.maxConnections = MAX_CLIENTS;
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new Error(`control socket ${path}: ${(err as Error).message}`);
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
    return cs;
  }

  /** Idempotent: stops listening, drops clients, removes the socket file. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const c of this.clients) c.destroy();
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  private serve(s: Socket, handler: ControlHandler): void {
    if (this.closing) {
      s.destroy();
      return;
    }
    this.clients.add(s);
    s.once('close', () => this.clients.delete(s));
    s.on('error', () => s.destroy());
    s.setTimeout(IDLE_MS, () => s.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let answered = false;
    s.on('data', (chunk: Buffer) => {
      if (answered) return;
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > MAX_REQUEST_BYTES) {
          answered = true;
          s.end(encodeLine({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` }));
        }
        return;
      }
      answered = true;
      const req = decodeRequest(buf.subarray(0, nl).toString('utf8'));
      if ('error' in req) {
        s.end(encodeLine({ ok: false, error: req.error }));
        return;
      }
      handler(req).then(
        (reply) => {
          if (s.destroyed) return;
          if ('error' in reply) {
            s.end(encodeLine({ ok: false, error: reply.error }));
            return;
          }
          s.write(encodeLine({ ok: true, ...reply.header }));
          if (reply.payload) s.end(reply.payload);
          else s.end();
        },
        (err: unknown) => {
          if (!s.destroyed) s.end(encodeLine({ ok: false, error: `internal error: ${(err as Error).message}` }));
        },
      );
    });
  }
}
