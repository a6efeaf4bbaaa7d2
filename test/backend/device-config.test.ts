// readDeviceConfig asks xenstored for every key at once (one round trip's latency, not fifteen) and
// still reports the first bad value in the order a reader of the frontend directory expects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceConfigError, readDeviceConfig } from '../../src/backend/device-config.js';
import type { XsOps } from '../../src/xenstore/types.js';

const FE = '/local/domain/5/device/vdispl/0';

/** A read-only XsOps over a map whose reads resolve only when the test releases them. */
function gatedStore(nodes: Record<string, string>): { xs: XsOps; inFlight: () => number; release: () => void } {
  let waiting: (() => void)[] = [];
  const later = <T>(v: T): Promise<T> => new Promise((r) => waiting.push(() => r(v)));
  const no = (): Promise<never> => Promise.reject(new Error('read-only'));
  const xs: XsOps = {
    read: (p) => (p in nodes ? later(nodes[p]!) : Promise.reject(new Error(`ENOENT ${p}`))),
    tryRead: (p) => later(nodes[p]),
    directory: (p) =>
      Promise.resolve([
        ...new Set(
          Object.keys(nodes)
            .filter((k) => k.startsWith(`${p}/`))
            .map((k) => k.slice(p.length + 1).split('/')[0]!),
        ),
      ]),
    write: no,
    mkdir: no,
    rm: no,
    getPerms: no,
    setPerms: no,
  };
  return {
    xs,
    inFlight: () => waiting.length,
    release: () => {
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    },
  };
}

function device(n: number, edit: (k: string, v: string) => string = (_k, v) => v): Record<string, string> {
  const nodes: Record<string, string> = { [`${FE}/be-alloc`]: '0', [`${FE}/version`]: '2' };
  for (let i = 0; i < n; i++) {
    const c: Record<string, string> = {
      resolution: '800x600',
      'unique-id': `id${i}`,
      'req-ring-ref': String(10 + i),
      'req-event-channel': String(20 + i),
      'evt-ring-ref': String(30 + i),
      'evt-event-channel': String(40 + i),
    };
    for (const [k, v] of Object.entries(c)) nodes[`${FE}/${i}/${k}`] = edit(`${i}/${k}`, v);
  }
  return nodes;
}

void test('all keys of a two-connector device are requested before any answer arrives', async () => {
  const g = gatedStore(device(2));
  const p = readDeviceConfig(g.xs, FE);
  // let the directory listing resolve and the reads go out
  for (let i = 0; i < 5 && g.inFlight() === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(g.inFlight(), 2 + 2 * 6, 'be-alloc, version and six keys per connector in flight together');
  g.release();
  const cfg = await p;
  assert.equal(cfg.connectors.length, 2);
  assert.equal(cfg.connectors[1]!.uniqueId, 'id1');
  assert.equal(cfg.connectors[1]!.evtPort, 41);
  assert.deepEqual(cfg.connectors[0]!.resolution, { width: 800, height: 600 });
});

void test('with several bad values the first in reading order is the one reported', async () => {
  const g = gatedStore(device(2, (k, v) => (k === '1/resolution' ? '5000x100' : k === '0/evt-ring-ref' ? 'x' : v)));
  const p = readDeviceConfig(g.xs, FE);
  for (let i = 0; i < 5 && g.inFlight() === 0; i++) await new Promise((r) => setImmediate(r));
  g.release();
  await assert.rejects(
    p,
    (e: unknown) => e instanceof DeviceConfigError && /0\/evt-ring-ref/.test(e.message) && e.fault === 'frontend',
  );
});
