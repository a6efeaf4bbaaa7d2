// Listener addresses for the metrics and viewer servers. Both are off unless asked for and bind
// the loopback interface unless a host is named, because neither has authentication: whoever can
// reach them sees every guest's screen or the host's load.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export type ListenSetting = Listen | 'off';

const LOOPBACK = '127.0.0.1';

/**
 * `off`, `PORT`, `HOST:PORT` or `[IPV6]:PORT`. A bare port binds 127.0.0.1. Port 0 asks the
 * kernel for a free port (tests). Throws one line naming the value.
 */
export function parseListen(raw: string): ListenSetting {
  const s = raw.trim();
  if (s === 'off' || s === 'no' || s === 'false' || s === '0') return 'off';
  let host = LOOPBACK;
  let port: string;
  const v6 = /^\[([0-9a-fA-F:.]{2,45})\]:(\d{1,5})$/.exec(s);
  const v4 = /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(s);
  if (v6) {
    host = v6[1]!;
    port = v6[2]!;
  } else if (v4) {
    host = v4[1]!;
    port = v4[2]!;
  } else if (/^\d{1,5}$/.test(s)) {
    port = s;
  } else {
    throw new Error(`listen address ${JSON.stringify(raw)}: expected off, PORT, HOST:PORT or [IPV6]:PORT`);
  }
  const n = Number(port);
  if (n > 65535) throw new Error(`listen address ${JSON.stringify(raw)}: port ${n} is above 65535`);
  return { host, port: n };
}

/**
 * Binds `server` (metrics or viewer) to `at`. Rejects with one line naming the listener and the
 * address; resolves to the address bound (port 0: the one the kernel chose).
 */
export async function bindListener(server: Server, at: Listen, what: string): Promise<Listen> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new Error(`${what} listener ${at.host}:${at.port}: ${(err as Error).message}`);
  });
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
