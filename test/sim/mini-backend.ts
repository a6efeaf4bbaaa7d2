// A minimal backend for the frontend's tests, scripted by the test: it does the XenBus dance,
// maps the rings, answers each request with what the test says, maps buffers (or allocates them
// for be-alloc), and completes flips with events. It reads fields straight from the slot so the
// test sees exactly what the guest wrote. Not the product's backend: just enough to drive a guest.
import { BackRing } from '../../src/displif/back-ring.js';
import { readU32, readU64 } from '../../src/displif/bytes.js';
import { DBUF_FLG_REQ_ALLOC, Op, PAGE_SIZE, SLOT_SIZE, XenbusState } from '../../src/displif/constants.js';
import { EventProducer } from '../../src/displif/event-page.js';
import { formatByFourcc } from '../../src/displif/formats.js';
import { fillPageDirectory, walkPageDirectory } from '../../src/displif/page-directory.js';
import { nativeSharedMemory } from '../../src/displif/shared-memory.js';
import { EVT_PAGE, REQ } from '../../src/displif/wire-layout.js';
import { decodeFrameBuffer, type DecodedFrame } from '../../src/sim/frontend/pattern.js';
import type { SimPlatform } from '../../src/sim/platform.js';
import { cookie, domId, evtchnPort, grantRef, grantRefsOf } from '../../src/util/ids.js';
import type { EventChannel, GrantMapping, GrantedBuffer } from '../../src/xen/platform.js';
import type { XenStore, XsWatch } from '../../src/xenstore/types.js';

export interface SeenRequest {
  readonly conn: number;
  readonly id: number;
  readonly op: number;
  /** The 64 bytes exactly as the guest left them in the slot. */
  readonly bytes: Uint8Array;
}

export type Answer = number | 'wrong-op' | 'silent';

interface Buffer {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly bpp: number;
  readonly dataOfs: number;
  readonly size: number;
  release(): void;
}

interface Connector {
  readonly ring: BackRing;
  readonly events: EventProducer;
  readonly evtBytes: Uint8Array;
  readonly maps: GrantMapping[];
  readonly req: EventChannel;
  readonly evt: EventChannel;
}

export class MiniBackend {
  readonly requests: SeenRequest[] = [];
  readonly violations: string[] = [];
  readonly flips: { conn: number; fb: bigint; frame: DecodedFrame | undefined }[] = [];
  readonly buffers = new Map<bigint, Buffer>();
  readonly fbs = new Map<bigint, { dbuf: bigint; width: number; height: number; fourcc: number }>();
  /** What each event's id should be shifted by (to test the frontend's id check). */
  eventIdOffset = 0;
  answer: (r: SeenRequest) => Answer = () => 0;
  flipDelayMs = 1;
  /** Play a backend that never reacts to the toolstack's Closing. */
  ignoreClosing = false;
  private conns: Connector[] = [];
  private watches: XsWatch[] = [];
  private queue: Promise<void> = Promise.resolve();
  readonly be: string;
  readonly fe: string;

  constructor(
    private readonly xs: XenStore,
    readonly platform: SimPlatform,
    readonly feDomid: number,
    readonly devid = 0,
  ) {
    this.be = `/local/domain/0/backend/vdispl/${feDomid}/${devid}`;
    this.fe = `/local/domain/${feDomid}/device/vdispl/${devid}`;
  }

  async start(): Promise<void> {
    await this.xs.write(`${this.be}/versions`, '1,2');
    await this.xs.write(`${this.be}/state`, String(XenbusState.InitWait));
    this.watches.push(await this.xs.watch(this.fe, () => this.serial(() => this.frontendChanged())));
    this.watches.push(await this.xs.watch(`${this.be}/state`, () => this.serial(() => this.backendChanged())));
  }

  get connected(): boolean {
    return this.conns.length > 0;
  }

  async setState(s: number): Promise<void> {
    await this.xs.write(`${this.be}/state`, String(s));
  }

  private serial(fn: () => Promise<void>): void {
    this.queue = this.queue.then(fn).catch((e: unknown) => console.error('mini backend:', e));
  }

  private async frontendChanged(): Promise<void> {
    const fe = Number(await this.xs.tryRead(`${this.fe}/state`));
    const be = Number(await this.xs.tryRead(`${this.be}/state`));
    if (fe === XenbusState.Initialised && be === XenbusState.InitWait) {
      await this.connect();
      await this.setState(XenbusState.Connected);
    } else if (fe === XenbusState.Initialising && be === XenbusState.Connected) {
      // The frontend restarted (after Reconfiguring): release and wait for it again.
      this.teardown();
      await this.setState(XenbusState.InitWait);
    }
  }

  private async backendChanged(): Promise<void> {
    const be = Number(await this.xs.tryRead(`${this.be}/state`));
    const online = await this.xs.tryRead(`${this.be}/online`);
    if (be === XenbusState.Closing && online === '0' && !this.ignoreClosing) {
      this.teardown();
      await this.setState(XenbusState.Closed);
    }
  }

  private async connect(): Promise<void> {
    const names = (await this.xs.directory(this.fe))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    for (const i of names) {
      const read = async (k: string): Promise<number> => Number(await this.xs.read(`${this.fe}/${i}/${k}`));
      const fe = domId(this.feDomid);
      const ringMap = await this.platform.mapGrants(fe, grantRefsOf([Number(await read('req-ring-ref'))]), {
        writable: true,
      });
      const evtMap = await this.platform.mapGrants(fe, grantRefsOf([Number(await read('evt-ring-ref'))]), {
        writable: true,
      });
      const conn: Connector = {
        ring: new BackRing(nativeSharedMemory(ringMap.bytes)),
        events: new EventProducer(nativeSharedMemory(evtMap.bytes)),
        evtBytes: evtMap.bytes,
        maps: [ringMap, evtMap],
        req: await this.platform.bindEventChannel(fe, evtchnPort(await read('req-event-channel')), () =>
          this.serial(() => this.onRequests(i)),
        ),
        evt: await this.platform.bindEventChannel(fe, evtchnPort(await read('evt-event-channel')), () => {}),
      };
      this.conns[i] = conn;
    }
  }

  /** Releases every mapping and binding (what a backend does when a frontend goes). */
  teardown(): void {
    for (const c of this.conns) {
      c.req.close();
      c.evt.close();
      for (const m of c.maps) m.close();
    }
    this.conns = [];
    for (const b of this.buffers.values()) b.release();
    this.buffers.clear();
    this.fbs.clear();
  }

  /** Resolves once the hypervisor has processed every unmap and release this backend sent. */
  sync(): Promise<void> {
    return this.platform.sync();
  }

  async close(): Promise<void> {
    for (const w of this.watches.splice(0)) await w.close();
    await this.queue;
    this.teardown();
  }

  private async onRequests(i: number): Promise<void> {
    const c = this.conns[i];
    if (!c) return;
    const batch: SeenRequest[] = [];
    for (;;) {
      const out = c.ring.consume(32, (copy) => {
        batch.push({ conn: i, id: copy[0]! | (copy[1]! << 8), op: copy[2]!, bytes: copy.slice(0, SLOT_SIZE) });
      });
      if (out.kind === 'violation') {
        // A broken frontend: drop it, as a backend must.
        this.violations.push(out.reason);
        this.teardown();
        await this.setState(XenbusState.Closed);
        return;
      }
      if (!out.more) break;
    }
    for (const r of batch) {
      this.requests.push(r);
      const a = this.answer(r);
      if (a === 'silent') continue;
      const status = a === 'wrong-op' ? 0 : a !== 0 ? a : await this.execute(r).catch(() => -22);
      // 'wrong-op': the byte left 0, as a backend reading the header's generic diagram ("reserved") would.
      c.ring.writeResponse(r.id, a === 'wrong-op' ? 0 : r.op, status);
      if (c.ring.pushResponses()) c.req.notify();
      if (r.op === Op.PG_FLIP && status === 0) {
        const fb = readU64(r.bytes, REQ.pgFlip.fbCookie);
        setTimeout(() => this.serial(async () => this.completeFlip(i, fb)), this.flipDelayMs);
      }
    }
  }

  private completeFlip(i: number, fb: bigint): Promise<void> {
    const c = this.conns[i];
    if (!c) return Promise.resolve();
    const f = this.fbs.get(fb);
    const buf = f && this.buffers.get(f.dbuf);
    const format = f && formatByFourcc(f.fourcc);
    const frame =
      buf && f && format
        ? decodeFrameBuffer({
            bytes: buf.bytes,
            offset: buf.dataOfs,
            pitch: buf.width ? Math.ceil((buf.width * buf.bpp) / 8) : f.width * format.cpp,
            width: f.width,
            height: f.height,
            format,
          })
        : undefined;
    this.flips.push({ conn: i, fb, frame });
    if (this.eventIdOffset) {
      // A hand-made event whose id is off: the frontend must drop it.
      const idx = readU32(c.evtBytes, EVT_PAGE.in_prod);
      const slot = 64 + (idx % 63) * 64;
      c.evtBytes.fill(0, slot, slot + 64);
      const id = (this.flips.length - 1 + this.eventIdOffset) & 0xffff;
      c.evtBytes[slot] = id & 0xff;
      c.evtBytes[slot + 1] = id >> 8;
      new DataView(c.evtBytes.buffer).setBigUint64(slot + 8, fb, true);
      new DataView(c.evtBytes.buffer).setUint32(EVT_PAGE.in_prod, idx + 1, true);
      c.evt.notify();
      return Promise.resolve();
    }
    if (c.events.pgFlip(cookie(fb)).notify) c.evt.notify();
    return Promise.resolve();
  }

  private async execute(r: SeenRequest): Promise<number> {
    const b = r.bytes;
    const fe = domId(this.feDomid);
    switch (r.op) {
      case Op.DBUF_CREATE: {
        const D = REQ.dbufCreate;
        const c = readU64(b, D.dbufCookie);
        const size = readU32(b, D.bufferSz);
        const pages = Math.ceil(size / PAGE_SIZE);
        const dir = grantRef(readU32(b, D.grefDirectory));
        const geometry = {
          width: readU32(b, D.width),
          height: readU32(b, D.height),
          bpp: readU32(b, D.bpp),
          dataOfs: readU32(b, D.dataOfs),
          size,
        };
        if (this.buffers.has(c)) return -17;
        if (readU32(b, D.flags) & DBUF_FLG_REQ_ALLOC) {
          const granted: GrantedBuffer = await this.platform.allocGranted(fe, pages);
          const dirMaps: GrantMapping[] = [];
          await fillPageDirectory(dir, granted.refs, async (ref) => {
            const m = await this.platform.mapGrants(fe, grantRefsOf([ref]), { writable: true });
            dirMaps.push(m);
            return m.bytes;
          });
          for (const m of dirMaps) m.close();
          this.buffers.set(c, { ...geometry, bytes: granted.bytes!, release: () => granted.close() });
          return 0;
        }
        const refs = await walkPageDirectory(dir, pages, async (ref) => {
          const m = await this.platform.mapGrants(fe, grantRefsOf([ref]), { writable: false });
          const copy = m.bytes.slice();
          m.close();
          return copy;
        });
        const m = await this.platform.mapGrants(fe, refs, { writable: false });
        this.buffers.set(c, { ...geometry, bytes: m.bytes, release: () => m.close() });
        return 0;
      }
      case Op.DBUF_DESTROY: {
        const c = readU64(b, REQ.dbufDestroy.dbufCookie);
        const buf = this.buffers.get(c);
        if (!buf) return -2;
        buf.release();
        this.buffers.delete(c);
        return 0;
      }
      case Op.FB_ATTACH: {
        const F = REQ.fbAttach;
        const dbuf = readU64(b, F.dbufCookie);
        if (!this.buffers.has(dbuf)) return -2;
        this.fbs.set(readU64(b, F.fbCookie), {
          dbuf,
          width: readU32(b, F.width),
          height: readU32(b, F.height),
          fourcc: readU32(b, F.pixelFormat),
        });
        return 0;
      }
      case Op.FB_DETACH:
        return this.fbs.delete(readU64(b, REQ.fbDetach.fbCookie)) ? 0 : -2;
      case Op.SET_CONFIG:
      case Op.PG_FLIP:
        return 0;
      default:
        return -22;
    }
  }
}
