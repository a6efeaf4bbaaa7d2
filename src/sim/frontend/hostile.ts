// A hostile guest for the backend's security tests: seeded, so a failure replays. It speaks the
// protocol through the same rings and grants as the driver, but lies: unknown and reused
// cookies, sizes that do not match what was granted, page directories that loop or end early,
// grants revoked or made for another domain, corrupted ring indices and event-page indices,
// unknown operations, random slots, and notification storms. A backend must answer each bad
// request with an error (or drop this frontend on a protocol violation) and stay up for others.
import {
  DBUF_FLG_REQ_ALLOC,
  GREFS_PER_DIR_PAGE,
  Op,
  PAGE_SIZE,
  SLOT_SIZE,
  XenbusState,
} from '../../displif/constants.js';
import { writeU32, writeU64 } from '../../displif/bytes.js';
import { PAGE_DIR, REQ, SRING, EVT_PAGE } from '../../displif/wire-layout.js';
import type { DomainKernel } from '../domain-kernel.js';
import type { DrmCard } from './card.js';
import type { FrontDevice } from './device.js';
import type { FrontendReport, HostileAttack, HostileBehaviour } from './protocol.js';
import { hostileSlot, type HostileSlot } from './hostile-requests.js';

const ALL_ATTACKS: readonly HostileAttack[] = [
  'bad-cookies',
  'lying-sizes',
  'directory-loops',
  'ring-corruption',
  'revoked-grants',
  'event-storm',
  'random-bytes',
  'unknown-ops',
  'event-page',
  'request-burst',
  'quota-exhaust',
  'be-alloc-abuse',
];

/** Apps made in this process: each reconnection's app draws its own sequence, reproducibly. */
let generation = 0;

/** Buffer pages of the pool the bursts may name; directories over 1, 2 and all of them. */
const POOL_BUFFER_PAGES = 8;

/** How long a corrupted ring may stay connected before the summary says the backend missed it. */
const RING_CORRUPTION_WAIT_MS = 5_000;

/** mulberry32: small, fast, good enough to pick attacks; the seed makes a run reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Field = readonly [offset: number, size: 1 | 2 | 4 | 8, value: number | bigint];

/** Granted pages of ours that an attack uses, released when it is done. */
interface Grant {
  readonly first: number;
  readonly pages: number;
  readonly refs: number[];
  readonly bytes: Uint8Array;
  unmap(): void;
}

export class HostileApp {
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly rand: () => number;
  private readonly byAttack: Record<string, number> = {};
  private readonly statuses: Record<string, number> = {};
  private timeouts = 0;
  private operations = 0;
  private requests = 0;
  private unanswered = 0;
  private closedUnanswered = 0;
  private strays = 0;
  private nextCookie = 0x4141000000000000n;
  /** Cookies of ours the backend accepted and we did not destroy (as far as we know). */
  private readonly liveDbufs = new Set<bigint>();
  private readonly liveFbs = new Set<bigint>();
  /** Pages granted once for the bursts: directories, buffer pages, a read-only page. */
  private pool: { grant: Grant; directories: { ref: number; pages: number }[]; readOnly: number[] } | undefined;

  constructor(
    private readonly dev: FrontDevice,
    private readonly card: DrmCard,
    private readonly b: HostileBehaviour,
    private readonly report: (r: FrontendReport) => void,
  ) {
    // The first app of a process draws from the seed itself (so seeds replay as before).
    this.rand = prng((b.seed + Math.imul(generation++, 0x9e3779b9)) >>> 0);
  }

  private get kernel(): DomainKernel {
    return this.dev.kernel;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private cookie(): bigint {
    this.nextCookie += 0x40n;
    return this.nextCookie;
  }

  private async run(): Promise<void> {
    const attacks = this.b.attacks && this.b.attacks.length ? this.b.attacks : ALL_ATTACKS;
    const total = this.b.operations ?? 200;
    try {
      while (!this.stopping && this.card.isPlugged && this.operations < total) {
        const attack = this.pick(attacks);
        this.byAttack[attack] = (this.byAttack[attack] ?? 0) + 1;
        this.operations++;
        await this.perform(attack);
        if (this.b.progressEvery && this.operations % this.b.progressEvery === 0) this.summary(false);
      }
    } catch (err) {
      this.report({ kind: 'error', message: `hostile: ${err instanceof Error ? err.message : String(err)}` });
    }
    if (this.pool) this.release(this.pool.grant);
    this.pool = undefined;
    this.summary(true);
  }

  private summary(final: boolean): void {
    this.report({
      kind: 'hostile-summary',
      devid: this.dev.devid,
      operations: this.operations,
      byAttack: { ...this.byAttack },
      statuses: { ...this.statuses },
      timeouts: this.timeouts,
      requests: this.requests,
      unanswered: this.unanswered,
      closedUnanswered: this.closedUnanswered,
      strays: this.strays,
      backendClosed: !this.card.isPlugged || this.dev.backendState !== XenbusState.Connected,
      final,
    });
  }

  private get connected(): boolean {
    return this.card.isPlugged && this.dev.backendState === XenbusState.Connected;
  }

  /** A request that got no answer: the backend's failure, unless it closed the device on us. */
  private noAnswer(): void {
    if (this.connected) this.unanswered++;
    else this.closedUnanswered++;
  }

  private tally(status: number): void {
    this.statuses[String(status)] = (this.statuses[String(status)] ?? 0) + 1;
    if (status === -110) this.timeouts++;
  }

  /** One request through the driver's path (one in flight, 3 s wait); the status is tallied. */
  private async send(conn: number, op: number, fields: readonly Field[]): Promise<number> {
    const ch = this.dev.pairs?.[conn]?.ctrl;
    if (!ch) return -19;
    const before = ch.unanswered;
    this.requests++;
    const status = await ch.request(
      op,
      (slot) => {
        slot.fill(0, 3);
        for (const [o, size, v] of fields) put(slot, o, size, v);
      },
      { anyOperation: true },
    );
    if (ch.unanswered !== before) this.noAnswer();
    this.tally(status);
    return status;
  }

  /** The burst's shared pages: made once, released when the app ends. */
  private async burstPool(): Promise<NonNullable<HostileApp['pool']>> {
    if (this.pool) return this.pool;
    // [dir1, dir2, dirAll, read-only page, buffer pages...]
    const g = await this.grant(4 + POOL_BUFFER_PAGES);
    const buf = g.refs.slice(4);
    this.writeDir(g, 0, 0, buf.slice(0, 1));
    this.writeDir(g, 1, 0, buf.slice(0, 2));
    this.writeDir(g, 2, 0, buf);
    this.kernel.grantAccess(g.refs[3]!, this.dev.backendId, g.first + 3, true);
    this.pool = {
      grant: g,
      directories: [
        { ref: g.refs[0]!, pages: 1 },
        { ref: g.refs[1]!, pages: 2 },
        { ref: g.refs[2]!, pages: POOL_BUFFER_PAGES },
      ],
      readOnly: [g.refs[3]!],
    };
    return this.pool;
  }

  /** Up to a ring's worth of hostile requests at once; every one must be answered exactly once. */
  private async burst(conn: number): Promise<void> {
    const ch = this.dev.pairs?.[conn]?.ctrl;
    if (!ch) return;
    const pool = await this.burstPool();
    const n = 1 + Math.floor(this.rand() * 32);
    const made: HostileSlot[] = [];
    for (let i = 0; i < n; i++) {
      made.push(
        hostileSlot({
          rand: this.rand,
          connectors: this.card.connectors,
          conn,
          liveDbufs: [...this.liveDbufs],
          liveFbs: [...this.liveFbs],
          grantedRefs: pool.grant.refs,
          readOnlyRefs: pool.readOnly,
          directories: pool.directories,
          isGranted: (ref) => this.isGranted(ref),
        }),
      );
    }
    const r = await ch.burst(made.map((m) => m.slot));
    this.strays += r.strays;
    r.statuses.forEach((status, i) => {
      this.requests++;
      if (status === undefined) {
        this.noAnswer();
        return;
      }
      this.tally(status);
      if (status === 0) this.track(made[i]!.slot);
    });
  }

  /** Whether our grant table has `ref` in use now (granted to anyone, rings and event pages included). */
  private isGranted(ref: number): boolean {
    const table = this.kernel.grantTable;
    return ref < table.entries && (table.header(ref) & 0xffff) !== 0;
  }

  /** Keeps the cookie lists roughly right, so later requests reuse live cookies. */
  private track(slot: Uint8Array): void {
    const u64 = (o: number): bigint => new DataView(slot.buffer, slot.byteOffset).getBigUint64(o, true);
    switch (slot[2]) {
      case Op.DBUF_CREATE:
        this.liveDbufs.add(u64(REQ.dbufCreate.dbufCookie));
        break;
      case Op.DBUF_DESTROY:
        this.liveDbufs.delete(u64(REQ.dbufDestroy.dbufCookie));
        break;
      case Op.FB_ATTACH:
        this.liveFbs.add(u64(REQ.fbAttach.fbCookie));
        break;
      case Op.FB_DETACH:
        this.liveFbs.delete(u64(REQ.fbDetach.fbCookie));
        break;
    }
  }

  /** Creates small buffers, then framebuffers over them, until refused; then releases them all. */
  private async exhaustQuotas(): Promise<void> {
    const g = await this.grant(2);
    this.writeDir(g, 0, 0, [g.refs[1]!]);
    const dbufs: bigint[] = [];
    const fbs: bigint[] = [];
    try {
      // The defaults allow 32 of each; a refusal (-ENOMEM) must come, and nothing must break.
      for (let i = 0; i < 100; i++) {
        const c = this.cookie();
        const st = await this.dbufCreate(c, g.refs[0]!, PAGE_SIZE, 16, 16, 32);
        if (st !== 0) break;
        dbufs.push(c);
      }
      for (let i = 0; i < 100 && dbufs.length; i++) {
        const fb = this.cookie();
        const st = await this.send(0, Op.FB_ATTACH, [
          [REQ.fbAttach.dbufCookie, 8, dbufs[i % dbufs.length]!],
          [REQ.fbAttach.fbCookie, 8, fb],
          [REQ.fbAttach.width, 4, 16],
          [REQ.fbAttach.height, 4, 16],
          [REQ.fbAttach.pixelFormat, 4, 0x34325258],
        ]);
        if (st !== 0) break;
        fbs.push(fb);
      }
    } finally {
      // Half detached first, the rest go with their buffers.
      for (const fb of fbs.slice(0, fbs.length >> 1))
        await this.send(0, Op.FB_DETACH, [[REQ.fbDetach.fbCookie, 8, fb]]);
      for (const c of dbufs) await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
      this.release(g);
    }
  }

  /** REQ_ALLOC abuse: read-only, too short or unknown directories, PRIME geometry with the flag. */
  private async beAllocAbuse(): Promise<void> {
    const g = await this.grant(2);
    const which = Math.floor(this.rand() * 4);
    if (which === 0) this.kernel.grantAccess(g.refs[0]!, this.dev.backendId, g.first, true);
    const c = this.cookie();
    const D = REQ.dbufCreate;
    const pages = which === 1 ? GREFS_PER_DIR_PAGE + 1 : 4; // which 1: two directory pages needed, one linked
    const dir = which === 2 ? 0x7ff0 + Math.floor(this.rand() * 1000) : g.refs[0]!;
    const prime = which === 3;
    const st = await this.send(0, Op.DBUF_CREATE, [
      [D.dbufCookie, 8, c],
      [D.width, 4, prime ? 0 : 32],
      [D.height, 4, prime ? 0 : 32],
      [D.bpp, 4, prime ? 0 : 32],
      [D.bufferSz, 4, pages * PAGE_SIZE],
      [D.flags, 4, DBUF_FLG_REQ_ALLOC],
      [D.grefDirectory, 4, dir],
    ]);
    if (st === 0) await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
    this.release(g);
  }

  /**
   * A valid directory whose buffer pages lie in no order (listed backwards, so no two neighbours
   * are consecutive frames): Xen's gntdev maps any set of frames, so this must succeed. Its
   * statuses are counted apart (`scattered-frames <status>` in byAttack) so a campaign can tell a
   * refusal of scattered frames (-EOPNOTSUPP, 95) from the quota's and the rate's refusals.
   */
  private async scatteredFrames(): Promise<void> {
    const n = 8;
    const g = await this.grant(1 + n);
    this.writeDir(g, 0, 0, g.refs.slice(1).reverse());
    const c = this.cookie();
    const st = await this.dbufCreate(c, g.refs[0]!, n * PAGE_SIZE, 32, 64, 32);
    const key = `scattered-frames ${st}`;
    this.byAttack[key] = (this.byAttack[key] ?? 0) + 1;
    if (st === 0) await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
    this.release(g);
  }

  private async grant(pages: number, to = this.dev.backendId): Promise<Grant> {
    const own = await this.kernel.allocPages(pages);
    const refs = await this.kernel.allocRefs(pages);
    refs.forEach((r, i) => this.kernel.grantAccess(r, to, own.first + i, false));
    return { first: own.first, pages, refs, bytes: own.bytes, unmap: () => own.unmap() };
  }

  private release(g: Grant): void {
    g.unmap();
    this.kernel.releaseDeferred(g.first, g.pages, g.refs);
  }

  /** A one-page directory listing `refs` (next = `next`). */
  private writeDir(g: Grant, page: number, next: number, refs: readonly number[]): void {
    const view = g.bytes.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    view.fill(0);
    writeU32(view, PAGE_DIR.gref_dir_next_page, next);
    refs.slice(0, GREFS_PER_DIR_PAGE).forEach((r, i) => writeU32(view, PAGE_DIR.gref + 4 * i, r));
  }

  private dbufCreate(cookie: bigint, dir: number, size: number, w: number, h: number, bpp: number): Promise<number> {
    const D = REQ.dbufCreate;
    return this.send(0, Op.DBUF_CREATE, [
      [D.dbufCookie, 8, cookie],
      [D.width, 4, w],
      [D.height, 4, h],
      [D.bpp, 4, bpp],
      [D.bufferSz, 4, size],
      [D.grefDirectory, 4, dir],
    ]);
  }

  private async perform(attack: HostileAttack): Promise<void> {
    const conns = this.card.connectors.length;
    const conn = Math.floor(this.rand() * conns);
    switch (attack) {
      case 'bad-cookies': {
        const which = Math.floor(this.rand() * 6);
        if (which === 0)
          await this.send(0, Op.FB_ATTACH, [
            [REQ.fbAttach.dbufCookie, 8, this.cookie()],
            [REQ.fbAttach.fbCookie, 8, this.cookie()],
            [REQ.fbAttach.width, 4, 64],
            [REQ.fbAttach.height, 4, 64],
            [REQ.fbAttach.pixelFormat, 4, 0x34325258],
          ]);
        else if (which === 1)
          await this.send(0, Op.DBUF_DESTROY, [
            [REQ.dbufDestroy.dbufCookie, 8, this.rand() < 0.5 ? 0n : this.cookie()],
          ]);
        else if (which === 2) await this.send(conn, Op.PG_FLIP, [[REQ.pgFlip.fbCookie, 8, this.cookie()]]);
        else if (which === 3)
          await this.send(conn, Op.SET_CONFIG, [
            [REQ.setConfig.fbCookie, 8, this.cookie()],
            [REQ.setConfig.width, 4, 64],
            [REQ.setConfig.height, 4, 64],
            [REQ.setConfig.bpp, 4, 32],
          ]);
        else {
          // The same cookie twice: the second create must fail, the first must still be destroyable.
          const g = await this.grant(2);
          this.writeDir(g, 0, 0, [g.refs[1]!]);
          const c = which === 4 ? this.cookie() : 0n;
          await this.dbufCreate(c, g.refs[0]!, PAGE_SIZE, 32, 32, 32);
          await this.dbufCreate(c, g.refs[0]!, PAGE_SIZE, 32, 32, 32);
          await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
          this.release(g);
        }
        return;
      }
      case 'lying-sizes': {
        const g = await this.grant(3);
        this.writeDir(g, 0, 0, [g.refs[1]!, g.refs[2]!]);
        const c = this.cookie();
        const which = Math.floor(this.rand() * 4);
        if (which === 0)
          await this.dbufCreate(c, g.refs[0]!, 0xffffffff, 64, 64, 32); // claims 1M pages
        else if (which === 1)
          await this.dbufCreate(c, g.refs[0]!, 2 * PAGE_SIZE, 4000, 2000, 32); // geometry bigger than buffer
        else if (which === 2)
          await this.dbufCreate(c, g.refs[0]!, 200 * PAGE_SIZE, 64, 64, 32); // directory lists 2 of 200
        else {
          if ((await this.dbufCreate(c, g.refs[0]!, 2 * PAGE_SIZE, 32, 32, 32)) === 0) {
            const fb = this.cookie();
            await this.send(0, Op.FB_ATTACH, [
              [REQ.fbAttach.dbufCookie, 8, c],
              [REQ.fbAttach.fbCookie, 8, fb],
              [REQ.fbAttach.width, 4, 4096],
              [REQ.fbAttach.height, 4, 4096],
              [REQ.fbAttach.pixelFormat, 4, 0x34325258],
            ]);
            const big = this.card.connectors[conn]!;
            await this.send(conn, Op.SET_CONFIG, [
              [REQ.setConfig.fbCookie, 8, fb],
              [REQ.setConfig.x, 4, big.width],
              [REQ.setConfig.y, 4, big.height],
              [REQ.setConfig.width, 4, 32],
              [REQ.setConfig.height, 4, 32],
              [REQ.setConfig.bpp, 4, 32],
            ]);
            await this.send(0, Op.FB_DETACH, [[REQ.fbDetach.fbCookie, 8, fb]]);
          }
          await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
        }
        this.release(g);
        return;
      }
      case 'directory-loops': {
        if (this.rand() < 0.25) {
          await this.scatteredFrames();
          return;
        }
        // 1024 buffer pages need two directory pages; the first links to itself, or ends early,
        // or the listed refs are 0.
        const n = GREFS_PER_DIR_PAGE + 1;
        const g = await this.grant(2 + n);
        const bufRefs = g.refs.slice(2);
        const which = Math.floor(this.rand() * 3);
        if (which === 0) this.writeDir(g, 0, g.refs[0]!, bufRefs);
        else if (which === 1) this.writeDir(g, 0, 0, bufRefs);
        else {
          this.writeDir(g, 0, g.refs[1]!, new Array<number>(GREFS_PER_DIR_PAGE).fill(0));
          this.writeDir(g, 1, g.refs[0]!, [0]);
        }
        const c = this.cookie();
        if ((await this.dbufCreate(c, g.refs[0]!, n * PAGE_SIZE, 0, 0, 0)) === 0) {
          await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
        }
        this.release(g);
        return;
      }
      case 'revoked-grants': {
        const g = await this.grant(3);
        this.writeDir(g, 0, 0, [g.refs[1]!, g.refs[2]!]);
        const which = Math.floor(this.rand() * 3);
        // Before the backend looks: end access, regrant to another domain, or make it read-only.
        if (which === 0) this.kernel.endAccess(g.refs[2]!);
        else if (which === 1) this.kernel.grantAccess(g.refs[2]!, 0x7ff0, g.first + 2, false);
        else this.kernel.grantAccess(g.refs[1]!, this.dev.backendId, g.first + 1, true);
        const c = this.cookie();
        if ((await this.dbufCreate(c, g.refs[0]!, 2 * PAGE_SIZE, 32, 16, 32)) === 0) {
          // And after: rip the entries out from under a mapping (Xen keeps the pages pinned).
          for (const r of g.refs) this.kernel.grantTable.casHeader(r, this.kernel.grantTable.header(r), 0);
          const fb = this.cookie();
          await this.send(0, Op.FB_ATTACH, [
            [REQ.fbAttach.dbufCookie, 8, c],
            [REQ.fbAttach.fbCookie, 8, fb],
            [REQ.fbAttach.width, 4, 32],
            [REQ.fbAttach.height, 4, 16],
            [REQ.fbAttach.pixelFormat, 4, 0x34325258],
          ]);
          await this.send(conn, Op.PG_FLIP, [[REQ.pgFlip.fbCookie, 8, fb]]);
          await this.send(0, Op.FB_DETACH, [[REQ.fbDetach.fbCookie, 8, fb]]);
          await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
        }
        this.release(g);
        return;
      }
      case 'event-storm': {
        const ch = this.dev.pairs?.[conn];
        if (!ch) return;
        for (let i = 0; i < 5000; i++) this.kernel.notify(this.rand() < 0.5 ? ch.ctrl.shared.port : ch.evt.shared.port);
        await this.kernel.sync();
        return;
      }
      case 'random-bytes': {
        const bytes: Field[] = [];
        for (let o = 2; o < SLOT_SIZE; o++) bytes.push([o, 1, Math.floor(this.rand() * 256)]);
        await this.send(conn, bytes[0]![2] as number, bytes);
        return;
      }
      case 'unknown-ops': {
        const codes = [0, 1, 0x0f, Op.GET_EDID, 0x17, 0x80, 0xff];
        const op = this.pick(codes);
        await this.send(
          conn,
          op,
          op === Op.GET_EDID
            ? [
                [REQ.getEdid.bufferSz, 4, 0xffffffff],
                [REQ.getEdid.grefDirectory, 4, 0],
              ]
            : [],
        );
        return;
      }
      case 'ring-corruption': {
        // req_prod far beyond anything the backend answered: it must treat us as broken.
        const ch = this.dev.pairs?.[conn]?.ctrl;
        if (!ch) return;
        const mem = ch.sharedMemory;
        const rsp = mem.load32Acquire(SRING.rsp_prod);
        // A jump far ahead, one just past the ring, an index moved backwards, or the wrap.
        const lies = [rsp + 1000, rsp + 33, rsp - 1, rsp + 0x80000000];
        mem.store32Release(SRING.req_prod, lies[Math.floor(this.rand() * lies.length)]! >>> 0);
        this.kernel.notify(ch.shared.port);
        await this.kernel.sync();
        // The backend must drop the device; wait for it (not a fixed pause, which a loaded machine
        // outlasts), bounded so that a backend that never notices shows as backendClosed: false.
        for (const until = Date.now() + RING_CORRUPTION_WAIT_MS; this.connected && Date.now() < until;) {
          await new Promise((r) => setTimeout(r, 10));
        }
        return;
      }
      case 'request-burst':
        await this.burst(conn);
        return;
      case 'quota-exhaust':
        await this.exhaustQuotas();
        return;
      case 'be-alloc-abuse':
        await this.beAllocAbuse();
        return;
      case 'event-page': {
        const ch = this.dev.pairs?.[conn]?.evt;
        if (!ch) return;
        const mem = ch.sharedMemory;
        // in_cons ahead of in_prod, far behind it, or at the u32 wrap.
        const inProd = mem.load32Acquire(EVT_PAGE.in_prod);
        const lies = [inProd + 500, inProd - 64, inProd + 0x80000000, 0xffffffff];
        mem.store32Release(EVT_PAGE.in_cons, lies[Math.floor(this.rand() * lies.length)]! >>> 0);
        return;
      }
    }
  }
}

function put(slot: Uint8Array, o: number, size: 1 | 2 | 4 | 8, v: number | bigint): void {
  if (size === 8) writeU64(slot, o, BigInt(v));
  else if (size === 4) writeU32(slot, o, Number(v) >>> 0);
  else if (size === 2) {
    slot[o] = Number(v) & 0xff;
    slot[o + 1] = (Number(v) >> 8) & 0xff;
  } else slot[o] = Number(v) & 0xff;
}
