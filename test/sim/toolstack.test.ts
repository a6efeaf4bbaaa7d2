// The toolstack writes what libxl writes (docs/PROTOCOL-NOTES.md, "XenStore keys"), permissions included, and removes
// a device as libxl does: online=0 + state=5 in one transaction, a 10 s wait for state 6, a
// forced second round, then every node gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startXenstored, type SimXenstored } from '../../src/sim/xenstored/index.js';
import { LIBXL_DESTROY_TIMEOUT_MS, Toolstack, vdisplPaths, type Clock } from '../../src/sim/toolstack.js';
import { parseVdisplSpec, formatVdisplSpec, VdisplSpecError } from '../../src/sim/vdispl-config.js';
import { XenStoreClient, unixSocketTransport, XenStoreError, type XenStore } from '../../src/xenstore/index.js';
import { scratchDir, until } from './helpers.js';

type Tree = Record<string, { value: string; perms: string }>;

/** Every node under `root` (root included): value and perms in Xen's string form ("n1,r0"). */
async function dump(xs: XenStore, root: string): Promise<Tree> {
  const out: Tree = {};
  const walk = async (p: string): Promise<void> => {
    const value = await xs.read(p);
    const perms = (await xs.getPerms(p)).map((x) => `${x.access}${x.domid}`).join(',');
    out[p] = { value, perms };
    for (const c of await xs.directory(p)) await walk(`${p}/${c}`);
  };
  await walk(root);
  return out;
}

async function withXenstore(fn: (xs: XenStoreClient, d: SimXenstored, dir: string) => Promise<void>): Promise<void> {
  const dir = scratchDir('toolstack');
  const d = await startXenstored({ socketPath: join(dir, 'xs') });
  const xs = await XenStoreClient.connect({ transport: unixSocketTransport(d.socketPath), reconnect: false });
  try {
    await fn(xs, d, dir);
  } finally {
    await xs.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A clock whose time moves only when the test says so. */
class ManualClock implements Clock {
  private now = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  get pending(): number {
    return this.timers.length;
  }
  tick(ms: number): void {
    this.now += ms;
    const due = this.timers.filter((t) => t.at <= this.now);
    this.timers = this.timers.filter((t) => t.at > this.now);
    for (const t of due) t.fn();
  }
}

const SPEC = 'backend=0,be-alloc=1,connectors=id0:1920x1080;id1:800x600';

void test('xl vdispl syntax parses like xl, and bad specs name what is wrong', () => {
  const cfg = parseVdisplSpec(SPEC);
  assert.deepEqual(cfg, {
    backend: '0',
    beAlloc: true,
    connectors: [
      { uniqueId: 'id0', width: 1920, height: 1080 },
      { uniqueId: 'id1', width: 800, height: 600 },
    ],
  });
  assert.deepEqual(parseVdisplSpec(formatVdisplSpec(cfg)), cfg);
  assert.equal(parseVdisplSpec('connectors=a:64x64').beAlloc, false);
  assert.equal(parseVdisplSpec('be-alloc=0x1,connectors=a:64x64').beAlloc, true);
  assert.throws(() => parseVdisplSpec('connectors=id0'), /<unique-id>:<W>x<H>/);
  assert.throws(() => parseVdisplSpec('connectors=id0:12x'), /invalid size/);
  assert.throws(() => parseVdisplSpec('be-alloc=yes,connectors=a:1x1'), VdisplSpecError);
  assert.throws(() => parseVdisplSpec('frobnicate=1,connectors=a:1x1'), /unknown option "frobnicate"/);
  assert.throws(() => parseVdisplSpec('backend=0'), /connectors= is required/);
});

void test('adding a vdispl device writes exactly the tree and permissions libxl writes', async () => {
  await withXenstore(async (xs, d) => {
    const ts = new Toolstack(xs);
    await ts.createDomainNodes(3, 'guest3', '00000000-0000-0000-0000-000000000003', 131072);
    await d.introduceDomain(3);
    const p = await ts.addVdispl(3, 0, parseVdisplSpec(SPEC));
    assert.deepEqual(p, vdisplPaths(3, 0, 0));
    const fe = '/local/domain/3/device/vdispl/0';
    const be = '/local/domain/0/backend/vdispl/3/0';
    const guestOwned = 'n3,r0';
    const roForGuest = 'n0,r3';
    assert.deepEqual(await dump(xs, fe), {
      [fe]: { value: '', perms: guestOwned },
      [`${fe}/backend`]: { value: be, perms: guestOwned },
      [`${fe}/backend-id`]: { value: '0', perms: guestOwned },
      [`${fe}/state`]: { value: '1', perms: guestOwned },
      [`${fe}/be-alloc`]: { value: '1', perms: roForGuest },
      // The connector directories are created implicitly and inherit the frontend dir's perms:
      // the guest owns them, so it can publish its ring refs there.
      [`${fe}/0`]: { value: '', perms: guestOwned },
      [`${fe}/0/resolution`]: { value: '1920x1080', perms: roForGuest },
      [`${fe}/0/unique-id`]: { value: 'id0', perms: roForGuest },
      [`${fe}/1`]: { value: '', perms: guestOwned },
      [`${fe}/1/resolution`]: { value: '800x600', perms: roForGuest },
      [`${fe}/1/unique-id`]: { value: 'id1', perms: roForGuest },
    });
    assert.deepEqual(await dump(xs, be), {
      [be]: { value: '', perms: roForGuest },
      [`${be}/frontend`]: { value: fe, perms: roForGuest },
      [`${be}/frontend-id`]: { value: '3', perms: roForGuest },
      [`${be}/online`]: { value: '1', perms: roForGuest },
      [`${be}/state`]: { value: '1', perms: roForGuest },
    });
    const libxl = await dump(xs, '/libxl/3/device/vdispl/0');
    assert.deepEqual(
      Object.fromEntries(Object.entries(libxl).map(([k, v]) => [k.slice('/libxl/3/device/vdispl/0'.length), v.value])),
      { '': '', '/frontend': fe, '/backend': be, '/frontend-id': '3', '/online': '1', '/state': '1' },
    );

    // What those permissions mean for the guest itself.
    const guest = await XenStoreClient.connect({
      transport: unixSocketTransport(d.domainSocketPath(3)),
      reconnect: false,
    });
    try {
      await guest.write(`${fe}/0/req-ring-ref`, '8');
      await guest.write(`${fe}/state`, '2');
      await assert.rejects(
        guest.write(`${fe}/be-alloc`, '0'),
        (e: unknown) => e instanceof XenStoreError && e.xsError === 'EACCES',
      );
      await assert.rejects(
        guest.write(`${fe}/0/resolution`, '9999x9999'),
        (e: unknown) => e instanceof XenStoreError && e.xsError === 'EACCES',
      );
      await assert.rejects(
        guest.write(`${be}/state`, '4'),
        (e: unknown) => e instanceof XenStoreError && e.xsError === 'EACCES',
      );
      assert.equal(await guest.read(`${be}/state`), '1');
    } finally {
      await guest.close();
    }

    // A second device gets the next id; adding an existing one fails like libxl's "already exists".
    const p1 = await ts.addVdispl(3, 0, parseVdisplSpec('connectors=x:64x64'));
    assert.equal(p1.devid, 1);
    await assert.rejects(
      ts.addVdispl(3, 0, parseVdisplSpec(SPEC), 0),
      (e: unknown) => e instanceof XenStoreError && e.xsError === 'EEXIST',
    );
  });
});

void test('removal writes online=0 and state=5 in one transaction, waits for state 6, then removes every node', async () => {
  await withXenstore(async (xs, d) => {
    const ts = new Toolstack(xs);
    await ts.createDomainNodes(4, 'g', '00000000-0000-0000-0000-000000000004', 65536);
    await d.introduceDomain(4);
    const p = await ts.addVdispl(4, 0, parseVdisplSpec('connectors=a:640x480'));
    // A minimal backend: answers Closing with Closed, recording what it saw at each state change.
    const seen: string[] = [];
    const w = await xs.watch(`${p.backend}/state`, () => {
      void (async () => {
        const [state, online] = await Promise.all([
          xs.tryRead(`${p.backend}/state`),
          xs.tryRead(`${p.backend}/online`),
        ]);
        if (state === undefined) return;
        seen.push(`${online}:${state}`);
        if (state === '5' && online === '0') await xs.write(`${p.backend}/state`, '6');
      })();
    });
    const r = await ts.removeVdispl(p);
    await w.close();
    assert.deepEqual(r, { outcome: 'closed', forced: false });
    assert.ok(!seen.includes('1:5') && !seen.includes('0:1'), `online and state change together: ${seen.join(' ')}`);
    assert.ok(seen.includes('0:5') && seen.includes('0:6'), seen.join(' '));
    for (const path of [
      p.frontend,
      p.backend,
      p.libxl,
      '/local/domain/4/device/vdispl',
      '/local/domain/0/backend/vdispl/4',
    ]) {
      assert.equal(await xs.tryRead(path), undefined, `${path} removed`);
    }
    // libxl__xs_path_cleanup also takes the now-empty device directory.
    assert.equal(await xs.tryRead('/local/domain/4/device'), undefined);
    assert.equal(await xs.read('/local/domain/4/name'), 'g');
  });
});

void test('an unresponsive backend: 10 s, then a forced round (frontend nodes go), then 10 s more, then everything goes', async () => {
  await withXenstore(async (xs, d) => {
    const clock = new ManualClock();
    const ts = new Toolstack(xs, clock);
    await ts.createDomainNodes(5, 'g', '00000000-0000-0000-0000-000000000005', 65536);
    await d.introduceDomain(5);
    const p = await ts.addVdispl(5, 0, parseVdisplSpec('connectors=a:640x480'));
    let settled = false;
    const removal = ts.removeVdispl(p).finally(() => (settled = true));
    await until(() => clock.pending === 1, 5000, 'the first wait');
    assert.equal(await xs.read(`${p.backend}/state`), '5');
    assert.equal(await xs.read(`${p.backend}/online`), '0');
    clock.tick(LIBXL_DESTROY_TIMEOUT_MS - 1);
    await xs.read(`${p.backend}/state`); // a round trip: let anything that would react, react
    assert.equal(settled, false);
    assert.equal(await xs.read(`${p.frontend}/state`), '1', 'the frontend nodes stay during the first 10 s');
    clock.tick(1);
    await until(() => clock.pending === 1, 5000, 'the forced wait');
    assert.equal(await xs.tryRead(p.frontend), undefined, 'forced: frontend nodes removed');
    assert.equal(await xs.read(`${p.backend}/state`), '5', 'the backend path still waits for the backend');
    clock.tick(LIBXL_DESTROY_TIMEOUT_MS);
    assert.deepEqual(await removal, { outcome: 'timeout', forced: true });
    assert.equal(await xs.tryRead(p.backend), undefined);
    assert.equal(await xs.tryRead(p.libxl), undefined);
    assert.equal(LIBXL_DESTROY_TIMEOUT_MS, 10_000);
  });
});
