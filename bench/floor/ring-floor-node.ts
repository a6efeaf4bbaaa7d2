// The Node ring floor: ring-floor.c's work done by Node.js, through the same addon and the same
// simulated transport vdispld uses, and nothing else. It is what any backend written for Node
// costs at the least on this machine: the runtime's own wake-ups (libuv, the microtask and timer
// machinery), V8's baseline memory, the addon's ring steps (`ringConsume`, `ringPublish`), the
// simulated platform's grant maps and doorbells. No validation, quotas, registry, outputs, logging
// or metrics. What vdispld costs above it is vdispld's own; what it costs above ring-floor.c is
// Node's.
//
// Same duties and stdin protocol as ring-floor.c (read that file's header): requests copied off
// the ring once and answered with status 0; DBUF_CREATE walks the page directory by grant copy and
// maps the buffer read-only, DBUF_DESTROY unmaps it; PG_FLIP's EVT_PG_FLIP goes out at the next
// tick of a vblank clock, a newer flip replacing a waiting one, whose event goes out at once.
//
//   node ring-floor-node.mjs --sim-dir DIR [--domid N] [--vblank-hz HZ]
//
// The benchmark bundles it with esbuild (bench/lib/build.ts), as vdispld's main.js is bundled.
import { createInterface } from 'node:readline';
import { BackRing } from '../../src/displif/back-ring.js';
import { readU16, readU32, readU64 } from '../../src/displif/bytes.js';
import { Op } from '../../src/displif/constants.js';
import { EventProducer } from '../../src/displif/event-page.js';
import { nativeSharedMemory } from '../../src/displif/shared-memory.js';
import { REQ } from '../../src/displif/wire-layout.js';
import { native } from '../../src/native/addon.js';
import { SimPlatform } from '../../src/sim/platform.js';
import { cookie, domId, evtchnPort, grantRef, grantRefs, type Cookie } from '../../src/util/ids.js';
import type { EventChannel, GrantMapping } from '../../src/xen/platform.js';

const PAGE = 4096;
const REFS_PER_DIR_PAGE = (PAGE - 4) / 4;

interface Device {
  readonly domid: number;
  readonly dbufs: Map<bigint, GrantMapping>;
}

interface Conn {
  readonly dev: Device;
  readonly ring: BackRing;
  readonly events: EventProducer;
  req: EventChannel | undefined;
  evt: EventChannel | undefined;
  flipWaiting: boolean;
  flipCookie: Cookie;
  busy: boolean;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const simDir = arg('--sim-dir');
if (!simDir) {
  process.stderr.write('usage: ring-floor-node --sim-dir DIR [--domid N] [--vblank-hz HZ]\n');
  process.exit(2);
}
const ownDomid = Number(arg('--domid') ?? 0);
const vblankHz = Number(arg('--vblank-hz') ?? 0);

const platform = await SimPlatform.connect({ dir: simDir, domid: ownDomid });
const devices = new Map<string, Device>();
const conns: Conn[] = [];
let nRequests = 0;
let nEvents = 0;
let nDbufs = 0;

function sendFlipEvent(c: Conn): void {
  c.flipWaiting = false;
  if (c.events.pgFlip(c.flipCookie).notify) c.evt?.notify();
  nEvents++;
}

async function dbufCreate(dev: Device, q: Uint8Array): Promise<number> {
  const n = Math.ceil(readU32(q, REQ.dbufCreate.bufferSz) / PAGE);
  if (n === 0 || n > 65536) return -22;
  const refs = new Uint32Array(n);
  let dir = readU32(q, REQ.dbufCreate.grefDirectory);
  const id = domId(dev.domid);
  try {
    for (let got = 0; got < n;) {
      if (dir === 0) return -22;
      const page = await platform.copyFromGrant(id, grantRef(dir), PAGE);
      const take = Math.min(n - got, REFS_PER_DIR_PAGE);
      for (let i = 0; i < take; i++) refs[got + i] = readU32(page, 4 + 4 * i);
      dir = readU32(page, 0);
      got += take;
    }
    const m = await platform.mapGrants(id, grantRefs(refs), { writable: false });
    dev.dbufs.set(readU64(q, REQ.dbufCreate.dbufCookie), m);
    nDbufs++;
    return 0;
  } catch (err) {
    return -Math.abs((err as { errno?: number }).errno ?? 5);
  }
}

/** A request's status; a promise only for DBUF_CREATE, whose maps are round trips. */
function handle(c: Conn, q: Uint8Array): number | Promise<number> {
  switch (q[REQ.operation]) {
    case Op.DBUF_CREATE:
      return dbufCreate(c.dev, q);
    case Op.DBUF_DESTROY: {
      const key = readU64(q, REQ.dbufDestroy.dbufCookie);
      const m = c.dev.dbufs.get(key);
      if (!m) return -2;
      m.close();
      c.dev.dbufs.delete(key);
      return 0;
    }
    case Op.PG_FLIP:
      if (c.flipWaiting) sendFlipEvent(c);
      c.flipCookie = cookie(readU64(q, REQ.op));
      c.flipWaiting = vblankHz > 0;
      if (vblankHz === 0) sendFlipEvent(c);
      return 0;
    default:
      return 0; // FB_ATTACH, FB_DETACH, SET_CONFIG, GET_EDID: nothing but the answer
  }
}

function service(c: Conn): void {
  if (c.busy) return;
  let answered = false;
  const out = c.ring.consume(Infinity, (q) => {
    const id = readU16(q, REQ.id);
    const op = q[REQ.operation]!;
    nRequests++;
    const r = handle(c, q);
    if (typeof r === 'number') {
      c.ring.writeResponse(id, op, r);
      answered = true;
      return true;
    }
    // A creation waits for its round trips; the ring waits with it, as ring-floor.c's does.
    c.busy = true;
    void r.then((status) => {
      c.ring.writeResponse(id, op, status);
      if (c.ring.pushResponses()) c.req?.notify();
      c.busy = false;
      service(c);
    });
    return false;
  });
  if (answered && c.ring.pushResponses()) c.req?.notify();
  if (out.kind === 'violation') {
    process.stderr.write(`ring-floor-node: dom${c.dev.domid}: ${out.reason}; not served any more\n`);
    c.busy = true;
  } else if (out.more && !c.busy) setImmediate(() => service(c));
}

async function addConn(line: string): Promise<string> {
  const f = line.split(' ');
  if (f.length !== 8) return 'err bad add line';
  const key = f[1]!;
  // <fe-domid> <conn> <req-ref> <req-port> <evt-ref> <evt-port>; the connector index is not needed.
  const n = f.slice(2).map(Number);
  const [feDomid, reqRef, reqPort, evtRef, evtPort] = [n[0]!, n[2]!, n[3]!, n[4]!, n[5]!];
  let dev = devices.get(key);
  if (!dev) devices.set(key, (dev = { domid: feDomid, dbufs: new Map() }));
  const id = domId(feDomid);
  try {
    const ringMap = await platform.mapGrants(id, grantRefs(Uint32Array.of(reqRef)), { writable: true });
    const evtMap = await platform.mapGrants(id, grantRefs(Uint32Array.of(evtRef)), { writable: true });
    const c: Conn = {
      dev,
      ring: new BackRing(nativeSharedMemory(ringMap.bytes)),
      events: new EventProducer(nativeSharedMemory(evtMap.bytes)),
      req: undefined,
      evt: undefined,
      flipWaiting: false,
      flipCookie: cookie(0n),
      busy: false,
    };
    c.req = await platform.bindEventChannel(id, evtchnPort(reqPort), () => service(c));
    c.evt = await platform.bindEventChannel(id, evtchnPort(evtPort), () => {});
    conns.push(c);
    service(c); // the bind set our port pending: requests may be waiting
    return 'ok';
  } catch (err) {
    return `err ${(err as Error).message}`;
  }
}

// The vblank clock: one timer for every connector, on an absolute grid (hrtime), as ring-floor.c's
// timerfd ticks. setTimeout counts whole milliseconds, so it is armed for the rounded-up wait.
if (vblankHz > 0) {
  const periodNs = BigInt(Math.round(1e9 / vblankHz));
  const t0 = process.hrtime.bigint();
  const arm = (): void => {
    const now = process.hrtime.bigint();
    const next = t0 + ((now - t0) / periodNs + 1n) * periodNs;
    setTimeout(tick, Math.ceil(Number(next - now) / 1e6));
  };
  const tick = (): void => {
    for (const c of conns) if (c.flipWaiting) sendFlipEvent(c);
    arm();
  };
  arm();
}

// Lines are answered in order, one at a time, as ring-floor.c answers them.
let chain = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  chain = chain.then(async () => {
    let answer: string;
    if (line.startsWith('add ')) answer = await addConn(line);
    else if (line === 'stats') answer = `requests ${nRequests} events ${nEvents} dbufs ${nDbufs}`;
    else answer = 'err unknown command';
    process.stdout.write(`${answer}\n`);
  });
});
lines.on('close', () => process.exit(0));

if (process.env['NOTIFY_SOCKET']) native().sdNotify(process.env['NOTIFY_SOCKET'], 'READY=1\n');
