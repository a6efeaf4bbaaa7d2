// The backend over a real (simulated) xenstored with libxl's tree and permissions, an in-process
// platform and a minimal frontend: one guest (domid 5, "guest5") with one vdispl device, served by
// a DisplayBackend whose outputs the test chooses (headless by default).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatByName } from '../../../src/displif/formats.js';
import { writePageDirectory, directoryPageCount } from '../../../src/displif/page-directory.js';
import { DisplayBackend } from '../../../src/backend/backend.js';
import { OutputMap } from '../../../src/backend/output-map.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { OutputBackend } from '../../../src/drm/output.js';
import { Toolstack, type VdisplPaths } from '../../../src/sim/toolstack.js';
import { parseVdisplSpec } from '../../../src/sim/vdispl-config.js';
import { startXenstored, type SimXenstored } from '../../../src/sim/xenstored/index.js';
import { XenStoreClient, unixSocketTransport } from '../../../src/xenstore/index.js';
import { silentLogger, type Logger } from '../../../src/util/log.js';
import { cookie } from '../../../src/util/ids.js';
import { FakePlatform, type FakeGuest } from './fake-platform.js';
import { TestFrontend } from './test-frontend.js';

export const XRGB = formatByName('XRGB8888')!;
export const FE = 5;

/** One guest's side: its frontend and its memory. */
export interface GuestSide {
  readonly domid: number;
  readonly fe: TestFrontend;
  readonly guest: FakeGuest;
  readonly paths: VdisplPaths;
}

export interface World extends GuestSide {
  dir: string;
  xsd: SimXenstored;
  dom0: XenStoreClient;
  beXs: XenStoreClient;
  guestXs: XenStoreClient;
  toolstack: Toolstack;
  platform: FakePlatform;
  guest: FakeGuest;
  headless: HeadlessBackend;
  outputs: OutputMap;
  backend: DisplayBackend;
  paths: VdisplPaths;
  fe: TestFrontend;
  /** Another guest (domid, named guest<domid>) with one vdispl device, served by the same backend. */
  addGuest(domid: number, spec: string): Promise<GuestSide>;
  close(): Promise<void>;
}

export async function world(
  spec = 'connectors=id0:640x480;id1:320x240',
  opts: {
    connectorMap?: Map<string, string>;
    log?: Logger;
    before?: (dom0: XenStoreClient) => Promise<void>;
    /** Backends whose outputs mappings name, searched before the headless one. */
    backends?: readonly OutputBackend[];
  } = {},
): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-be-'));
  const xsd = await startXenstored({ socketPath: join(dir, 'xs') });
  const connect = (p: string) => XenStoreClient.connect({ transport: unixSocketTransport(p), reconnect: false });
  const dom0 = await connect(xsd.socketPath);
  const beXs = await connect(xsd.socketPath);
  const toolstack = new Toolstack(dom0);
  await toolstack.createDomainNodes(FE, 'guest5', '00000000-0000-0000-0000-000000000005', 65536);
  const guestXs = await connect(await xsd.introduceDomain(FE));
  await opts.before?.(dom0);
  const platform = new FakePlatform();
  const guest = platform.guest(FE, 16384);
  const headless = new HeadlessBackend();
  const outputs = new OutputMap({
    backends: [...(opts.backends ?? []), headless],
    onDemand: headless,
    connectorMap: opts.connectorMap,
  });
  const backend = await DisplayBackend.start({ xs: beXs, platform, outputs, log: opts.log ?? silentLogger() });
  const paths = await toolstack.addVdispl(FE, 0, parseVdisplSpec(spec));
  const fe = new TestFrontend(guestXs, platform, guest, paths.frontend, paths.backend);
  const clients = [guestXs, beXs, dom0];
  const w: World = {
    domid: FE,
    dir,
    xsd,
    dom0,
    beXs,
    guestXs,
    toolstack,
    platform,
    guest,
    headless,
    outputs,
    backend,
    paths,
    fe,
    addGuest: async (domid, gspec) => {
      const uuid = `00000000-0000-0000-0000-${String(domid).padStart(12, '0')}`;
      await toolstack.createDomainNodes(domid, `guest${domid}`, uuid, 65536);
      const xs = await connect(await xsd.introduceDomain(domid));
      clients.unshift(xs);
      const g = platform.guest(domid, 16384);
      const p = await toolstack.addVdispl(domid, 0, parseVdisplSpec(gspec));
      return { domid, fe: new TestFrontend(xs, platform, g, p.frontend, p.backend), guest: g, paths: p };
    },
    close: async () => {
      await w.backend.close();
      await headless.close();
      for (const c of clients) await c.close();
      await xsd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/** Nothing held: no mapping, binding, granted buffer, framebuffer or dedicated output. */
export function assertNothingHeld(w: World, why: string): void {
  const r = w.platform.resources();
  assert.deepEqual(
    r,
    { grantMappings: 0, mappedPages: 0, exportedDmaBufs: 0, grantedBuffers: 0, eventChannels: 0 },
    why,
  );
  assert.equal(w.headless.resources().framebuffers, 0, why);
  assert.equal(w.headless.outputs().length, 0, why);
  const b = w.backend.resources();
  assert.equal(b.connected, 0, why);
  assert.equal(b.buffers + b.framebuffers + b.bufferPages, 0, why);
}

/** A frontend-allocated w x h XRGB buffer with a framebuffer over it (rows of bytes equal to y). */
export async function attachBuffer(
  w: GuestSide,
  dbuf: bigint,
  fb: bigint,
  width: number,
  height: number,
): Promise<void> {
  const sz = width * height * 4;
  const n = Math.ceil(sz / 4096);
  const data = w.guest.grantPages(n);
  const dirRefs = w.guest.grantPages(directoryPageCount(n));
  writePageDirectory(
    dirRefs.map((r) => w.guest.page(r)),
    dirRefs,
    data,
  );
  // The picture: every byte of row y is y.
  for (let y = 0; y < height; y++)
    w.guest.arena.fill(
      y & 0xff,
      w.guest.grants.get(data[0]!)!.page * 4096 + y * width * 4,
      w.guest.grants.get(data[0]!)!.page * 4096 + (y + 1) * width * 4,
    );
  let r = await w.fe.request(0, {
    kind: 'dbuf-create',
    dbufCookie: cookie(dbuf),
    geometry: { width, height, bpp: 32 },
    bufferSz: sz,
    beAlloc: false,
    grefDirectory: dirRefs[0]!,
    dataOfs: 0,
  });
  assert.equal(r.status, 0, 'DBUF_CREATE');
  r = await w.fe.request(0, {
    kind: 'fb-attach',
    dbufCookie: cookie(dbuf),
    fbCookie: cookie(fb),
    width,
    height,
    format: XRGB,
  });
  assert.equal(r.status, 0, 'FB_ATTACH');
}

/** attachBuffer, then shown on connector `c`. */
export async function showBuffer(
  w: GuestSide,
  c: number,
  dbuf: bigint,
  fb: bigint,
  width: number,
  height: number,
): Promise<void> {
  await attachBuffer(w, dbuf, fb, width, height);
  const r = await w.fe.request(c, {
    kind: 'set-config',
    config: { fbCookie: cookie(fb), x: 0, y: 0, width, height, bpp: 32 },
  });
  assert.equal(r.status, 0, 'SET_CONFIG');
}
