// Hostile request slots, pure: what a lying guest writes into a ring slot, drawn from a seeded
// generator. Every operation (and codes that are none), every named field set to a value that sits
// on or across a limit the backend checks (zero, one, page and directory sizes, the Linux frontend's
// resolution limits, the u32 extremes), cookies that are zero, fresh, reused or belong to live
// buffers, refs that were never granted or were granted read-only, and reserved bytes full of
// stale junk. No I/O: the hostile app pushes the slots and tallies the answers.
import { writeU16, writeU32, writeU64 } from '../../displif/bytes.js';
import {
  DBUF_FLG_REQ_ALLOC,
  EDID_MAX_SIZE,
  GREFS_PER_DIR_PAGE,
  GNTDEV_MAX_REFS,
  Op,
  PAGE_SIZE,
  SLOT_SIZE,
} from '../../displif/constants.js';
import { PIXEL_FORMATS } from '../../displif/formats.js';
import { REQ } from '../../displif/wire-layout.js';

/** What the generator may refer to: state of this guest that a request can reuse or abuse. */
export interface HostileRequestContext {
  readonly rand: () => number;
  /** Connectors of the device and the ring the slot goes on. */
  readonly connectors: readonly { readonly width: number; readonly height: number }[];
  readonly conn: number;
  /** Cookies of buffers and framebuffers this guest made and did not destroy (reuse, duplicates). */
  readonly liveDbufs: readonly bigint[];
  readonly liveFbs: readonly bigint[];
  /** Refs granted to the backend (writable), and ones granted read-only. */
  readonly grantedRefs: readonly number[];
  readonly readOnlyRefs: readonly number[];
  /** Well-formed page directories of ours and the buffer pages each lists: creations that can succeed. */
  readonly directories: readonly { readonly ref: number; readonly pages: number }[];
  /**
   * Whether this guest has `ref` granted right now (its ring and event pages among them). A ref
   * drawn as "never granted" must not be one: a be-alloc DBUF_CREATE naming the guest's own
   * control ring makes the backend write buffer refs over that ring's header (rsp_event), and the
   * guest then waits forever for notifications it asked not to get (docs/SECURITY.md, findings).
   */
  readonly isGranted?: (ref: number) => boolean;
}

export interface HostileSlot {
  readonly slot: Uint8Array;
  /** The operation byte written (what the response must echo). */
  readonly operation: number;
  /** For tallies: which shape of lie this is. */
  readonly label: string;
}

/** Values every u32 check sits near. */
const U32_EDGES = [
  0,
  1,
  2,
  3,
  7,
  8,
  31,
  32,
  63,
  64,
  GREFS_PER_DIR_PAGE - 1,
  GREFS_PER_DIR_PAGE,
  GREFS_PER_DIR_PAGE + 1,
  2047,
  2048,
  4095,
  PAGE_SIZE,
  PAGE_SIZE + 1,
  8191,
  8192,
  EDID_MAX_SIZE - 1,
  EDID_MAX_SIZE,
  0xffff,
  0x10000,
  GNTDEV_MAX_REFS * PAGE_SIZE - 1,
  GNTDEV_MAX_REFS * PAGE_SIZE,
  0x7fffffff,
  0x80000000,
  0xfffff000,
  0xfffffffe,
  0xffffffff,
];

const U64_EDGES = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xffff888100000000n];

const KNOWN_OPS = [Op.DBUF_CREATE, Op.DBUF_DESTROY, Op.FB_ATTACH, Op.FB_DETACH, Op.SET_CONFIG, Op.PG_FLIP, Op.GET_EDID];

class Gen {
  constructor(private readonly c: HostileRequestContext) {}

  int(n: number): number {
    return Math.floor(this.c.rand() * n);
  }

  pick<T>(xs: readonly T[]): T | undefined {
    return xs.length ? xs[this.int(xs.length)] : undefined;
  }

  chance(p: number): boolean {
    return this.c.rand() < p;
  }

  /** A u32: an edge, an edge +-1, plausible, or anything. */
  u32(plausible: readonly number[] = []): number {
    switch (this.int(5)) {
      case 0:
      case 1:
        return this.pick(U32_EDGES)!;
      case 2:
        return (this.pick(U32_EDGES)! + (this.chance(0.5) ? 1 : -1)) >>> 0;
      case 3:
        return plausible.length ? this.pick(plausible)! : this.int(4096);
      default:
        return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
    }
  }

  /** A cookie: zero, an extreme, a live one of ours (reuse), or a fresh one. */
  cookie(live: readonly bigint[]): bigint {
    const r = this.int(6);
    if (r === 0) return 0n;
    if (r === 1) return this.pick(U64_EDGES)!;
    if (r <= 3 && live.length) return this.pick(live)!;
    return 0x4242000000000000n + BigInt(this.int(0x100000)) * 0x40n;
  }

  /** A grant ref: granted writable, granted read-only, never granted, or an extreme. */
  ref(): number {
    const r = this.int(6);
    if (r <= 1 && this.c.grantedRefs.length) return this.pick(this.c.grantedRefs)!;
    if (r === 2 && this.c.readOnlyRefs.length) return this.pick(this.c.readOnlyRefs)!;
    const ref = r === 3 ? this.pick([0, 1, 7, 8, 0xffff, 0x7fffffff, 0xffffffff])! : 8 + this.int(40000);
    // Not granted by us, as promised: one of our live pages (a ring) would be a different attack.
    return this.c.isGranted?.(ref) ? 0xffffffff : ref;
  }
}

/** One hostile slot for the ring of connector `ctx.conn`. */
export function hostileSlot(ctx: HostileRequestContext): HostileSlot {
  const g = new Gen(ctx);
  const slot = new Uint8Array(SLOT_SIZE);
  // Stale bytes where the driver leaves them: the header's reserved bytes and the op area's tail.
  if (g.chance(0.3)) for (let o = 3; o < SLOT_SIZE; o++) slot[o] = g.int(256);
  const conn = ctx.connectors[ctx.conn] ?? { width: 64, height: 64 };
  const widths = [conn.width, conn.width + 1, 4095, 4096, 8192, 8193];
  const heights = [conn.height, conn.height + 1, 2047, 2048, 8192, 8193];
  const fourccs = PIXEL_FORMATS.map((f) => f.fourcc);
  const bpps = [0, 8, 15, 16, 24, 32, 33, 64];

  const r = g.int(20);
  let operation: number;
  let label: string;
  if (r === 0) {
    // Not an operation at all, or one reserved for later.
    operation = g.pick([0, 1, 0x0f, 0x17, 0x7f, 0x80, 0xfe, 0xff])!;
    label = 'unknown-op';
  } else {
    operation = KNOWN_OPS[r % KNOWN_OPS.length]!;
    label = `op-${operation.toString(16)}`;
  }
  slot[2] = operation;
  switch (operation) {
    case Op.DBUF_CREATE: {
      const L = REQ.dbufCreate;
      writeU64(slot, L.dbufCookie, g.cookie(ctx.liveDbufs));
      const dir = g.chance(0.3) ? g.pick(ctx.directories) : undefined;
      if (dir) {
        // A creation that can succeed: our directory, a size it covers exactly, a geometry that fits.
        const size = dir.pages * PAGE_SIZE - g.int(PAGE_SIZE);
        const prime = g.chance(0.3);
        writeU32(slot, L.width, prime ? 0 : 16);
        writeU32(slot, L.height, prime ? 0 : Math.floor(size / 64));
        writeU32(slot, L.bpp, prime ? 0 : 32);
        writeU32(slot, L.bufferSz, size);
        writeU32(slot, L.flags, g.chance(0.2) ? DBUF_FLG_REQ_ALLOC : 0);
        writeU32(slot, L.grefDirectory, dir.ref);
        writeU32(slot, L.dataOfs, 0);
        label += '-fits';
        break;
      }
      const prime = g.chance(0.2);
      const w = prime ? 0 : g.u32(widths);
      const h = prime ? 0 : g.u32(heights);
      const bpp = prime ? 0 : g.u32(bpps);
      writeU32(slot, L.width, w);
      writeU32(slot, L.height, h);
      writeU32(slot, L.bpp, bpp);
      // Often the size that fits the geometry, or one byte or one page off it, or a lie.
      const fit = Math.min(0xffffffff, Math.ceil((w * bpp) / 8) * h);
      const size = g.pick([fit, fit - 1, fit + 1, fit + PAGE_SIZE, g.u32([PAGE_SIZE, 2 * PAGE_SIZE])])!;
      writeU32(slot, L.bufferSz, size >>> 0);
      writeU32(slot, L.flags, g.chance(0.3) ? DBUF_FLG_REQ_ALLOC | (g.chance(0.2) ? 0xfffffffe : 0) : 0);
      writeU32(slot, L.grefDirectory, g.ref());
      writeU32(slot, L.dataOfs, g.chance(0.6) ? 0 : g.u32([1, 64, PAGE_SIZE]));
      label += prime ? '-prime' : '';
      break;
    }
    case Op.DBUF_DESTROY:
      writeU64(slot, REQ.dbufDestroy.dbufCookie, g.cookie(ctx.liveDbufs));
      break;
    case Op.FB_ATTACH: {
      const L = REQ.fbAttach;
      writeU64(slot, L.dbufCookie, g.cookie(ctx.liveDbufs));
      writeU64(slot, L.fbCookie, g.cookie(ctx.liveFbs));
      writeU32(slot, L.width, g.u32(widths));
      writeU32(slot, L.height, g.u32(heights));
      writeU32(slot, L.pixelFormat, g.chance(0.8) ? g.pick(fourccs)! : g.u32());
      break;
    }
    case Op.FB_DETACH:
      writeU64(slot, REQ.fbDetach.fbCookie, g.cookie(ctx.liveFbs));
      break;
    case Op.SET_CONFIG: {
      const L = REQ.setConfig;
      if (g.chance(0.1)) {
        // All zeros: "reset" (turn the connector off).
        slot.fill(0, 8);
        label += '-off';
        break;
      }
      writeU64(slot, L.fbCookie, g.cookie(ctx.liveFbs));
      writeU32(slot, L.x, g.u32([0, conn.width, conn.width - 1]));
      writeU32(slot, L.y, g.u32([0, conn.height, conn.height - 1]));
      writeU32(slot, L.width, g.u32(widths));
      writeU32(slot, L.height, g.u32(heights));
      writeU32(slot, L.bpp, g.u32(bpps));
      break;
    }
    case Op.PG_FLIP:
      writeU64(slot, REQ.pgFlip.fbCookie, g.cookie(ctx.liveFbs));
      break;
    case Op.GET_EDID:
      // Version 2 only: on a v1 connection it must be refused, not served.
      writeU32(slot, REQ.getEdid.bufferSz, g.u32([EDID_MAX_SIZE, EDID_MAX_SIZE - 1]));
      writeU32(slot, REQ.getEdid.grefDirectory, g.ref());
      break;
    default:
      break;
  }
  // The driver owns the id; the channel writes it. Keep the slot's id bytes zero here.
  writeU16(slot, 0, 0);
  return { slot, operation, label };
}
