// Shared fixtures for the operations tests: a logger whose records a test can read, a simulated
// xenstored with a dom0 client, bounded waiting, and temp dirs that are removed.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startXenstored, type SimXenstored } from '../../src/sim/xenstored/index.js';
import { XenStoreClient } from '../../src/xenstore/client.js';
import { unixSocketTransport } from '../../src/xenstore/transport-unix.js';

export interface Captured {
  readonly log: Logger;
  readonly records: Record<string, unknown>[];
  messages(level?: string): string[];
}

const LEVEL_NUM: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export function captureLogger(level = 'debug'): Captured {
  const records: Record<string, unknown>[] = [];
  const log = pino(
    { level, base: undefined },
    { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return {
    log,
    records,
    messages: (lv) =>
      records.filter((r) => lv === undefined || r['level'] === LEVEL_NUM[lv]).map((r) => String(r['msg'])),
  };
}

export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `vdispld-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface XsFixture {
  readonly xsd: SimXenstored;
  readonly dom0: XenStoreClient;
  close(): Promise<void>;
}

export async function xenstored(): Promise<XsFixture> {
  const t = tempDir('xs');
  const xsd = await startXenstored({ socketPath: join(t.dir, 'socket') });
  const dom0 = await XenStoreClient.connect({ reconnect: false, transport: unixSocketTransport(xsd.socketPath) });
  return {
    xsd,
    dom0,
    async close() {
      await dom0.close();
      assert.equal(dom0.stats().watches, 0, 'no watch left registered');
      assert.equal(dom0.stats().pending, 0, 'no request left pending');
      await xsd.close();
      assert.deepEqual(readdirSync(t.dir), [], 'every socket file removed');
      t.remove();
    },
  };
}

/** Handles that stay open by mistake: servers, sockets, timers, workers (counted by kind). */
export function openHandles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (/^(TCPServerWrap|PipeServerWrap|TCPSocketWrap|PipeWrap|Timeout|Worker|MessagePort)$/.test(r))
      out[r] = (out[r] ?? 0) + 1;
  }
  return out;
}

/** Waits until the open handles are back to `before` (closing sockets finish on a later turn). */
export async function assertNoNewHandles(before: Record<string, number>, what: string): Promise<void> {
  const grown = (): string[] =>
    Object.entries(openHandles())
      .filter(([k, n]) => n > (before[k] ?? 0))
      .map(([k, n]) => `${k} ${before[k] ?? 0} -> ${n}`);
  const deadline = Date.now() + 3000;
  while (grown().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(grown(), [], `${what} left handles open`);
}
