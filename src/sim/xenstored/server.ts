// The simulated xenstored's sockets: the dom0 socket and one socket per introduced domain. Each
// accepted connection is handed to the engine bound to the domain its socket stands for.
import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { XenstoredCore, type XenstoredStats } from './core.js';
import type { Quotas } from './quotas.js';

export interface XenstoredOptions {
  /** The dom0 (privileged) socket, what XENSTORED_PATH points tools at. */
  readonly socketPath: string;
  readonly quotas?: Partial<Quotas>;
  readonly log?: (line: string) => void;
}

export interface SimXenstored {
  readonly socketPath: string;
  /** Where a domain's connections go once it is introduced. */
  domainSocketPath(domid: number): string;
  /** Introduces `domid` (fires @introduceDomain once) and resolves to its socket path. Idempotent. */
  introduceDomain(domid: number): Promise<string>;
  /** Fires @releaseDomain, drops the domain's connections, watches and socket. False if not introduced. */
  releaseDomain(domid: number): Promise<boolean>;
  isIntroduced(domid: number): boolean;
  stats(): XenstoredStats & { readonly sockets: number; readonly listeners: number };
  /** Idempotent: hangs up every connection and removes every socket file. */
  close(): Promise<void>;
}

/** sockaddr_un holds 108 bytes including the terminating nul. */
const SUN_PATH_MAX = 107;

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    /* absent: nothing to remove */
  }
}

function listen(server: Server, path: string): Promise<void> {
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    return Promise.reject(
      new Error(`xenstored: socket path ${path} is longer than ${SUN_PATH_MAX} bytes; choose a shorter one`),
    );
  }
  removeStaleSocket(path);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`xenstored: cannot listen on ${path}: ${err.message}`));
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startXenstored(opts: XenstoredOptions): Promise<SimXenstored> {
  const log = opts.log ?? ((): void => undefined);
  const sockets = new Set<Socket>();
  const domainServers = new Map<number, { server: Server; ready: Promise<void> }>();
  let closed = false;

  const domainSocketPath = (domid: number): string => `${opts.socketPath}.dom${domid}`;

  const core = new XenstoredCore({
    quotas: opts.quotas,
    log,
    onIntroduce: (domid) => {
      openDomain(domid).catch((err: unknown) => log(err instanceof Error ? err.message : String(err)));
    },
    onRelease: (domid) => {
      closeDomain(domid).catch((err: unknown) => log(err instanceof Error ? err.message : String(err)));
    },
  });

  const accept =
    (domid: number) =>
    (sock: Socket): void => {
      if (closed) {
        sock.destroy();
        return;
      }
      sockets.add(sock);
      const conn = core.attach(domid, {
        send: (frame) => {
          sock.write(frame);
        },
        close: () => {
          sock.destroy();
        },
      });
      sock.on('data', (chunk: Buffer) => conn.receive(chunk));
      sock.on('error', (err) => log(`connection of dom${domid}: ${err.message}`));
      sock.on('close', () => {
        sockets.delete(sock);
        conn.close();
      });
    };

  const openDomain = (domid: number): Promise<void> => {
    const existing = domainServers.get(domid);
    if (existing !== undefined) return existing.ready;
    const server = createServer(accept(domid));
    const ready = listen(server, domainSocketPath(domid));
    domainServers.set(domid, { server, ready });
    return ready;
  };

  // Node removes the socket file when a listening unix server closes.
  const closeServer = (server: Server): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });

  const closeDomain = async (domid: number): Promise<void> => {
    const entry = domainServers.get(domid);
    if (entry === undefined) return;
    domainServers.delete(domid);
    await entry.ready.catch(() => undefined);
    await closeServer(entry.server);
  };

  const main = createServer(accept(0));
  await listen(main, opts.socketPath);

  return {
    socketPath: opts.socketPath,
    domainSocketPath,
    async introduceDomain(domid) {
      if (closed) throw new Error('xenstored: closed');
      core.introduceDomain(domid);
      await openDomain(domid);
      return domainSocketPath(domid);
    },
    async releaseDomain(domid) {
      const released = core.releaseDomain(domid);
      await closeDomain(domid);
      return released;
    },
    isIntroduced: (domid) => core.isIntroduced(domid),
    stats: () => ({ ...core.stats(), sockets: sockets.size, listeners: domainServers.size + (main.listening ? 1 : 0) }),
    async close() {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await Promise.all([...domainServers.keys()].map((d) => closeDomain(d)));
      await closeServer(main);
    },
  };
}
