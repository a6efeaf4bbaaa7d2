// The metrics listener: GET /metrics and nothing else, on loopback unless configured otherwise.
import { createServer, type Server } from 'node:http';
import { bindListener, type Listen } from '../config/listen.js';
import type { Metrics } from './metrics.js';

export class MetricsServer {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly address: { host: string; port: number },
  ) {}

  static async listen(at: Listen, metrics: Metrics): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' }).end('vdispld: GET /metrics\n');
        return;
      }
      metrics.text().then(
        (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
        (err: unknown) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 5000;
    return new MetricsServer(server, await bindListener(server, at, 'metrics'));
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }
}
