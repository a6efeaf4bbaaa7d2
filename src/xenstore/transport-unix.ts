// The unix-socket transport: how dom0 tools reach xenstored (/run/xenstored/socket).
import { createConnection } from 'node:net';
import type { Transport, TransportSink, TransportStream } from './transport.js';

export function unixSocketTransport(path: string): Transport {
  return {
    description: `unix socket ${path}`,
    open(sink: TransportSink): Promise<TransportStream> {
      return new Promise((resolve, reject) => {
        const sock = createConnection({ path });
        let opened = false;
        let closedByUs = false;
        let lastError: Error | undefined;
        const stream: TransportStream = {
          write(bytes) {
            if (!closedByUs && !sock.destroyed) sock.write(bytes);
          },
          close() {
            closedByUs = true;
            sock.destroy();
          },
        };
        sock.once('connect', () => {
          opened = true;
          resolve(stream);
        });
        sock.on('data', (chunk: Buffer) => {
          if (!closedByUs) sink.onData(chunk);
        });
        sock.on('error', (err) => {
          if (!opened) reject(new Error(`cannot connect to xenstored on unix socket ${path}: ${err.message}`));
          else lastError = err;
        });
        sock.on('close', () => {
          if (opened && !closedByUs) sink.onClose(lastError);
        });
      });
    },
  };
}
