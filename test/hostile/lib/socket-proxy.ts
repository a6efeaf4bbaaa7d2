// A unix-socket relay between the daemon and xenstored, for "xenstored restarted under the
// daemon": down() hangs up every connection and stops listening, up() listens again. The daemon
// sees exactly what a xenstored restart shows a client — its connection dropped, requests in
// flight failed, watches gone, the socket refusing for a while — while the store itself (kept by
// the real xenstored behind the relay) survives, as it does across a live update.
import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SocketProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private closed = false;
  /** Connections accepted so far (a reconnecting client adds one per reconnection). */
  accepted = 0;

  private constructor(
    readonly path: string,
    private readonly upstream: string,
  ) {}

  static async start(path: string, upstream: string): Promise<SocketProxy> {
    const p = new SocketProxy(path, upstream);
    await p.up();
    return p;
  }

  async up(): Promise<void> {
    if (this.server || this.closed) return;
    rmSync(this.path, { force: true });
    const server = createServer((client) => this.relay(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and hangs up every relayed connection. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.down();
  }

  private relay(client: Socket): void {
    this.accepted++;
    const up = connect(this.upstream);
    const pair: [Socket, Socket] = [client, up];
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      up.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    client.pipe(up);
    up.pipe(client);
  }
}
