// Which transport reaches xenstored, chosen as libxenstore's xs_open() does: the unix socket
// (XENSTORED_PATH, else /run/xenstored/socket) first, then the xenbus device a driver domain has
// (XENSTORED_PATH, else /dev/xen/xenbus, else /proc/xen/xenbus).
import { existsSync } from 'node:fs';
import type { Transport, TransportSink, TransportStream, XenbusTransportFactory } from './transport.js';
import { unixSocketTransport } from './transport-unix.js';

export const DEFAULT_SOCKET_PATH = '/run/xenstored/socket';

export type TransportChoice = 'auto' | 'unix' | 'xenbus';

export interface Environment {
  readonly XENSTORED_PATH?: string | undefined;
}

export function socketPathFrom(env: Environment): string {
  return env.XENSTORED_PATH !== undefined && env.XENSTORED_PATH !== '' ? env.XENSTORED_PATH : DEFAULT_SOCKET_PATH;
}

export function xenbusPathFrom(env: Environment, exists: (p: string) => boolean = existsSync): string {
  if (env.XENSTORED_PATH !== undefined && env.XENSTORED_PATH !== '') return env.XENSTORED_PATH;
  return exists('/dev/xen/xenbus') ? '/dev/xen/xenbus' : '/proc/xen/xenbus';
}

/** The xenbus transport, loaded only when needed: it depends on the native addon and may be absent. */
async function loadXenbus(devicePath: string): Promise<Transport> {
  // Loaded on demand (a chunk of the bundle): it needs the native addon, which a host reaching
  // xenstored over its socket never loads for it.
  const mod = (await import('./transport-xenbus.js')) as { xenbusTransport?: XenbusTransportFactory };
  if (typeof mod.xenbusTransport !== 'function') throw new Error('transport-xenbus.js exports no xenbusTransport');
  return mod.xenbusTransport(devicePath);
}

function xenbusTransportLazy(devicePath: string): Transport {
  return {
    description: `xenbus device ${devicePath}`,
    async open(sink: TransportSink): Promise<TransportStream> {
      let t: Transport;
      try {
        t = await loadXenbus(devicePath);
      } catch (err) {
        throw new Error(
          `xenbus transport unavailable for ${devicePath}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return t.open(sink);
    },
  };
}

/** Tries each transport in order on every open (so a reconnect re-selects), reporting every failure. */
export function firstWorking(candidates: readonly Transport[]): Transport {
  return {
    description: candidates.map((c) => c.description).join(', else '),
    async open(sink: TransportSink): Promise<TransportStream> {
      const failures: string[] = [];
      for (const c of candidates) {
        try {
          return await c.open(sink);
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          failures.push(msg.includes(c.description) ? msg : `${c.description}: ${msg}`);
        }
      }
      throw new Error(`${failures.join('; ')}. Is xenstored running? XENSTORED_PATH selects another socket.`);
    },
  };
}

export function selectTransport(choice: TransportChoice, env: Environment = process.env): Transport {
  switch (choice) {
    case 'unix':
      return unixSocketTransport(socketPathFrom(env));
    case 'xenbus':
      return xenbusTransportLazy(xenbusPathFrom(env));
    case 'auto':
      return firstWorking([unixSocketTransport(socketPathFrom(env)), xenbusTransportLazy(xenbusPathFrom(env))]);
  }
}
