// Shared fixtures: a simulated xenstored in a private temp dir, clients bound to dom0 or a guest,
// and a leak check that everything opened was closed.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenStoreClient, type ConnectOptions } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';
import { startXenstored, type SimXenstored, type XenstoredOptions } from '../../src/sim/xenstored/index.js';
import { XenStoreError, type XsErrorName } from '../../src/xenstore/types.js';

export interface Fixture {
  readonly dir: string;
  readonly xsd: SimXenstored;
  /** A privileged (dom0) client on the main socket. */
  readonly dom0: XenStoreClient;
  /** A client for a guest domain (introduced on first use). */
  guest(domid: number, opts?: Omit<ConnectOptions, 'transport'>): Promise<XenStoreClient>;
  client(socketPath: string, opts?: Omit<ConnectOptions, 'transport'>): Promise<XenStoreClient>;
  /** Closes every client, the daemon, and checks nothing is left behind. */
  close(): Promise<void>;
}

export async function fixture(opts: Partial<XenstoredOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-xs-'));
  const xsd = await startXenstored({ socketPath: join(dir, 'socket'), ...opts });
  const clients: XenStoreClient[] = [];
  const client = async (socketPath: string, o: Omit<ConnectOptions, 'transport'> = {}): Promise<XenStoreClient> => {
    const c = await XenStoreClient.connect({ reconnect: false, ...o, transport: unixSocketTransport(socketPath) });
    clients.push(c);
    return c;
  };
  const dom0 = await client(xsd.socketPath);
  return {
    dir,
    xsd,
    dom0,
    client,
    guest: async (domid, o) => client(await xsd.introduceDomain(domid), o),
    async close() {
      for (const c of clients) {
        await c.close();
        assert.equal(c.stats().pending, 0, 'no request left pending');
        assert.equal(c.stats().watches, 0, 'no watch left registered');
      }
      await xsd.close();
      await xsd.close();
      assert.deepEqual(readdirSync(dir), [], 'every socket file removed');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts that `p` rejects with a XenStoreError carrying `name` (and `path`, when given). */
export async function rejectsWith(
  p: Promise<unknown>,
  name: XsErrorName | 'ECONNRESET' | 'EPROTO',
  path?: string,
): Promise<XenStoreError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof XenStoreError, `expected a XenStoreError, got ${String(err)}`);
    assert.equal(err.xsError, name, err.message);
    if (path !== undefined) assert.equal(err.path, path);
    return err;
  }
  assert.fail(`expected ${name}, but it resolved`);
}

/** Collects watch callbacks and lets a test wait for the n-th one without sleeping blindly. */
export class EventLog {
  readonly events: string[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  readonly push = (path: string): void => {
    this.events.push(path);
    this.waiters = this.waiters.filter((w) => {
      if (this.events.length < w.n) return true;
      w.resolve();
      return false;
    });
  };

  /** Resolves once `n` events have arrived; rejects after `ms` (a bound, not a timing assertion). */
  until(n: number, ms = 5000): Promise<string[]> {
    if (this.events.length >= n) return Promise.resolve(this.events.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.events.length} of ${n} events: ${JSON.stringify(this.events)}`)),
        ms,
      );
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.events.slice());
        },
      });
    });
  }
}

/** Round-trips a request so every event caused before it has been delivered (xenstored answers in order). */
export async function settle(c: XenStoreClient): Promise<void> {
  await c.getDomainPath(0);
}

/** Polls `cond` every few ms; rejects after `ms` so no test can hang on it. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
