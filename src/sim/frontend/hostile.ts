// A hostile guest for the backend's security tests: seeded, so a failure replays. It speaks the
// protocol through the same rings and grants as the driver, but lies: unknown and reused
// cookies, sizes that do not match what was granted, page directories that loop or end early,
// grants revoked or made for another domain, corrupted ring indices and event-page indices,
// unknown operations, random slots, and notification storms. A backend must answer each bad
// request with an error (or drop this frontend on a protocol violation) and stay up for others.
import { GREFS_PER_DIR_PAGE, Op, PAGE_SIZE, SLOT_SIZE, XenbusState } from '../../displif/constants.js';
import { writeU32, writeU64 } from '../../displif/bytes.js';
import { PAGE_DIR, REQ, SRING, EVT_PAGE } from '../../displif/wire-layout.js';
import type { DomainKernel } from '../domain-kernel.js';
import type { DrmCard } from './card.js';
import type { FrontDevice } from './device.js';
import type { FrontendReport, HostileAttack, HostileBehaviour } from './protocol.js';

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
];

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
  private nextCookie = 0x4141000000000000n;

  constructor(
    private readonly dev: FrontDevice,
    private readonly card: DrmCard,
    private readonly b: HostileBehaviour,
    private readonly report: (r: FrontendReport) => void,
  ) {
    this.rand = prng(b.seed);
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
      }
    } catch (err) {
      this.report({ kind: 'error', message: `hostile: ${err instanceof Error ? err.message : String(err)}` });
    }
    this.report({
      kind: 'hostile-summary',
      devid: this.dev.devid,
      operations: this.operations,
      byAttack: { ...this.byAttack },
      statuses: { ...this.statuses },
      timeouts: this.timeouts,
      backendClosed: !this.card.isPlugged || this.dev.backendState !== XenbusState.Connected,
    });
  }

  /** One request through the driver's path (one in flight, 3 s wait); the status is tallied. */
  private async send(conn: number, op: number, fields: readonly Field[]): Promise<number> {
    const ch = this.dev.pairs?.[conn]?.ctrl;
    if (!ch) return -19;
    const status = await ch.request(
      op,
      (slot) => {
        slot.fill(0, 3);
        for (const [o, size, v] of fields) put(slot, o, size, v);
      },
      { anyOperation: true },
    );
    this.statuses[String(status)] = (this.statuses[String(status)] ?? 0) + 1;
    if (status === -110) this.timeouts++;
    return status;
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
        if (which === 0) await this.send(0, Op.FB_ATTACH, [[REQ.fbAttach.dbufCookie, 8, this.cookie()], [REQ.fbAttach.fbCookie, 8, this.cookie()], [REQ.fbAttach.width, 4, 64], [REQ.fbAttach.height, 4, 64], [REQ.fbAttach.pixelFormat, 4, 0x34325258]]);
        else if (which === 1) await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, this.rand() < 0.5 ? 0n : this.cookie()]]);
        else if (which === 2) await this.send(conn, Op.PG_FLIP, [[REQ.pgFlip.fbCookie, 8, this.cookie()]]);
        else if (which === 3) await this.send(conn, Op.SET_CONFIG, [[REQ.setConfig.fbCookie, 8, this.cookie()], [REQ.setConfig.width, 4, 64], [REQ.setConfig.height, 4, 64], [REQ.setConfig.bpp, 4, 32]]);
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
        if (which === 0) await this.dbufCreate(c, g.refs[0]!, 0xffffffff, 64, 64, 32); // claims 1M pages
        else if (which === 1) await this.dbufCreate(c, g.refs[0]!, 2 * PAGE_SIZE, 4000, 2000, 32); // geometry bigger than buffer
        else if (which === 2) await this.dbufCreate(c, g.refs[0]!, 200 * PAGE_SIZE, 64, 64, 32); // directory lists 2 of 200
        else {
          if ((await this.dbufCreate(c, g.refs[0]!, 2 * PAGE_SIZE, 32, 32, 32)) === 0) {
            const fb = this.cookie();
            await this.send(0, Op.FB_ATTACH, [[REQ.fbAttach.dbufCookie, 8, c], [REQ.fbAttach.fbCookie, 8, fb], [REQ.fbAttach.width, 4, 4096], [REQ.fbAttach.height, 4, 4096], [REQ.fbAttach.pixelFormat, 4, 0x34325258]]);
            const big = this.card.connectors[conn]!;
            await this.send(conn, Op.SET_CONFIG, [[REQ.setConfig.fbCookie, 8, fb], [REQ.setConfig.x, 4, big.width], [REQ.setConfig.y, 4, big.height], [REQ.setConfig.width, 4, 32], [REQ.setConfig.height, 4, 32], [REQ.setConfig.bpp, 4, 32]]);
            await this.send(0, Op.FB_DETACH, [[REQ.fbDetach.fbCookie, 8, fb]]);
          }
          await this.send(0, Op.DBUF_DESTROY, [[REQ.dbufDestroy.dbufCookie, 8, c]]);
        }
        this.release(g);
        return;
      }
      case 'directory-loops': {
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
          await this.send(0, Op.FB_ATTACH, [[REQ.fbAttach.dbufCookie, 8, c], [REQ.fbAttach.fbCookie, 8, fb], [REQ.fbAttach.width, 4, 32], [REQ.fbAttach.height, 4, 16], [REQ.fbAttach.pixelFormat, 4, 0x34325258]]);
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
        await this.send(conn, op, op === Op.GET_EDID ? [[REQ.getEdid.bufferSz, 4, 0xffffffff], [REQ.getEdid.grefDirectory, 4, 0]] : []);
        return;
      }
      case 'ring-corruption': {
        // req_prod far beyond anything the backend answered: it must treat us as broken.
        const ch = this.dev.pairs?.[conn]?.ctrl;
        if (!ch) return;
        const mem = ch.sharedMemory;
        mem.store32Release(SRING.req_prod, (mem.load32Acquire(SRING.rsp_prod) + 1000) >>> 0);
        this.kernel.notify(ch.shared.port);
        await this.kernel.sync();
        await new Promise((r) => setTimeout(r, 50));
        return;
      }
      case 'event-page': {
        const ch = this.dev.pairs?.[conn]?.evt;
        if (!ch) return;
        const mem = ch.sharedMemory;
        mem.store32Release(EVT_PAGE.in_cons, (mem.load32Acquire(EVT_PAGE.in_prod) + 500) >>> 0);
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
