// A scripted xenstored stand-in for tests of what a real one should never send.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameDecoder, type XsMessage } from '../../src/xenstore/wire.js';

export type Responder = (msg: XsMessage, sock: Socket) => void;

export class FakeServer {
  readonly path: string;
  private readonly dir: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  readonly received: XsMessage[] = [];

  private constructor(respond: Responder) {
    this.dir = mkdtempSync(join(tmpdir(), 'vdispld-fake-xs-'));
    this.path = join(this.dir, 'socket');
    this.server = createServer((sock) => {
      this.sockets.add(sock);
      const dec = new FrameDecoder();
      sock.on('data', (c: Buffer) => {
        for (const m of dec.push(c)) {
          this.received.push(m);
          respond(m, sock);
        }
      });
      sock.on('error', () => undefined);
      sock.on('close', () => this.sockets.delete(sock));
    });
  }

  static async start(respond: Responder): Promise<FakeServer> {
    const f = new FakeServer(respond);
    await new Promise<void>((resolve) => f.server.listen(f.path, resolve));
    return f;
  }

  get connections(): number {
    return this.sockets.size;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
