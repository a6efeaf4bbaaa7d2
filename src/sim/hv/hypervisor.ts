// The simulated hypervisor: a service owned by the host process that keeps what Xen keeps —
// domains, their memory and grant tables, active grant entries, event channels — and that every
// process of a domain reaches through that domain's unix socket (paths.ts). Which socket a
// process connected to is its domain id, so a guest cannot act as another domain.
//
// A connection stands for the open /dev/xen/{evtchn,gntdev,gntalloc} files of one process:
// when it closes, its mappings are unmapped, its ports closed, and its allocations ended and
// freed (deferred while another domain still maps them), as the Linux drivers do on release.
// A destroyed domain whose pages are still mapped by others stays a zombie until they unmap.
import { constants as fsc, mkdirSync, openSync, closeSync, ftruncateSync, readSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { native, type NativeMapping } from '../../native/addon.js';
import { ActiveGrants } from './active-grants.js';
import { ringDoorbell } from './doorbells.js';
import { EventChannels, type PortStats } from './event-channels.js';
import {
  DEFAULT_MAX_GRANT_FRAMES,
  GNTST_bad_domain,
  GNTST_bad_page,
  GNTST_no_space,
  GNTST_okay,
  GNTTAB_NR_RESERVED_ENTRIES,
  GRANT_ENTRIES_PER_FRAME,
  GrantTableView,
} from './grant-table.js';
import { PageAllocator, RefAllocator } from './page-allocator.js';
import { doorbellPath, grantTablePath, hvSocketPath, ramPath } from './paths.js';
import { FrameReader, FrameWriter, GNTMAP_FLAG_READONLY, HvOp, MapFailReason, type Frame } from './wire.js';
import { XenErrno } from '../../displif/constants.js';

const PAGE = 4096;
// The hypervisor answers in Xen's numbers.
const { EINVAL, ENOMEM } = XenErrno;
/** gntdev's per-request limit. */
export const MAX_REFS_PER_MAP = 65536;
/** Xen's default gnttab_max_maptrack_frames (1024) × 256 handles per frame. */
export const DEFAULT_MAPTRACK_LIMIT = 1024 * 256;
/** Words before the frames in a GntMap reply: errno, gntst, failIndex, reason, handle. */
const MAP_REPLY_HEADER = 5;
/** Words before the page in a GntCopyPage reply: errno, gntst, reason. */
const COPY_REPLY_HEADER = 3;

export interface DomainSpec {
  readonly domid: number;
  /** Size of the domain's memory file in 4 KiB pages. */
  readonly ramPages: number;
  readonly maxGrantFrames?: number;
}

export type DomainState = 'running' | 'zombie';

export interface GrantStats {
  /** Entries of this domain's table that some domain maps. */
  readonly pinnedEntries: number;
  /** Mappings this domain holds on others' grants (handles) and the pages they cover. */
  readonly mappings: number;
  readonly mappedPages: number;
  readonly allocatedPages: number;
  readonly allocatedRefs: number;
}

interface MapHandle {
  readonly granter: number;
  readonly refs: Uint32Array;
  readonly writable: boolean;
}

interface Connection {
  readonly id: number;
  readonly domid: number;
  readonly socket: Socket;
  readonly reader: FrameReader;
  /** Replies and events of one turn go out in one write. */
  readonly writer: FrameWriter;
  readonly handles: Map<number, MapHandle>;
  /** Frame runs and refs this process allocated (gntalloc-like ownership). */
  readonly runs: Map<number, number>;
  readonly refs: Set<number>;
  closed: boolean;
}

interface Domain {
  readonly domid: number;
  readonly ramPages: number;
  state: DomainState;
  readonly gnttab: NativeMapping;
  readonly table: GrantTableView;
  readonly active: ActiveGrants;
  readonly pages: PageAllocator;
  readonly refs: RefAllocator;
  readonly server: Server;
  readonly conns: Set<Connection>;
  mappedPages: number;
  /** The memory file, opened for grant copies on first use. */
  ramFd?: number;
}

export class SimHypervisor {
  private readonly domains = new Map<number, Domain>();
  private readonly conns = new Map<number, Connection>();
  private readonly evtchn: EventChannels;
  private nextConnId = 1;
  private nextHandle = 1;
  private closed = false;
  /** Malformed frames and operations on ports a connection does not own, by domain. */
  private readonly violations = new Map<number, number>();
  private readonly zombieWaiters: (() => void)[] = [];
  /** Our descriptor of each port's doorbell, by generation. */
  private readonly doorbells = new Map<number, number>();

  constructor(
    readonly dir: string,
    private readonly maptrackLimit = DEFAULT_MAPTRACK_LIMIT,
  ) {
    mkdirSync(`${dir}/xen`, { recursive: true });
    mkdirSync(`${dir}/mem`, { recursive: true });
    mkdirSync(`${dir}/xen/evtchn`, { recursive: true });
    this.evtchn = new EventChannels({
      opened: (domid, port, gen) => {
        const path = doorbellPath(dir, domid, port, gen);
        native().makeFifo(path, 0o600);
        // Held open for the port's life: bytes rung before the owner opens it are kept (a FIFO
        // drops its data when its last descriptor closes), and ringing never blocks. Node opens
        // files close-on-exec. A guest may hold up to MAX_PORTS_PER_DOMAIN of these.
        try {
          this.doorbells.set(gen, openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK));
        } catch (err) {
          rmSync(path, { force: true });
          throw err;
        }
      },
      closed: (domid, port, gen) => {
        const fd = this.doorbells.get(gen);
        this.doorbells.delete(gen);
        if (fd !== undefined) closeSync(fd);
        rmSync(doorbellPath(dir, domid, port, gen), { force: true });
      },
      ring: (_domid, _port, gen) => {
        const fd = this.doorbells.get(gen);
        if (fd !== undefined) ringDoorbell(fd);
      },
      peerChanged: (owner, port, peer) => {
        const c = this.conns.get(owner);
        if (c && !c.closed)
          c.writer.write(HvOp.EvtchnPeer, 0, peer ? [port, peer.domid, peer.port, peer.gen] : [port, 0, 0, 0]);
      },
    });
  }

  /** Creates the domain's memory and grant table files and starts serving its socket. */
  async createDomain(spec: DomainSpec): Promise<void> {
    if (this.closed) throw new Error('hypervisor is closed');
    if (this.domains.has(spec.domid)) throw new Error(`domain ${spec.domid} exists`);
    if (!Number.isInteger(spec.ramPages) || spec.ramPages < 16) throw new RangeError('ramPages must be >= 16');
    const entries = (spec.maxGrantFrames ?? DEFAULT_MAX_GRANT_FRAMES) * GRANT_ENTRIES_PER_FRAME;
    makeFile(ramPath(this.dir, spec.domid), spec.ramPages * PAGE);
    makeFile(grantTablePath(this.dir, spec.domid), entries * 8);
    const fd = openSync(grantTablePath(this.dir, spec.domid), 'r+');
    let gnttab: NativeMapping;
    try {
      gnttab = native().mapFd(fd, 0, entries * 8, true);
    } finally {
      closeSync(fd);
    }
    const table = new GrantTableView(gnttab.buffer);
    const server = createServer((sock) => this.accept(spec.domid, sock));
    const dom: Domain = {
      domid: spec.domid,
      ramPages: spec.ramPages,
      state: 'running',
      gnttab,
      table,
      active: new ActiveGrants(table, spec.ramPages),
      // Frame 0 stays unused, as a guest kernel would never hand out its first page.
      pages: new PageAllocator(1, spec.ramPages - 1),
      refs: new RefAllocator(GNTTAB_NR_RESERVED_ENTRIES, entries),
      server,
      conns: new Set(),
      mappedPages: 0,
    };
    this.domains.set(spec.domid, dom);
    this.evtchn.addDomain(spec.domid);
    const path = hvSocketPath(this.dir, spec.domid);
    rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Destroys a domain: drops its connections (unmapping what it mapped, closing its ports),
   * stops its socket, and frees it — or leaves it a zombie while others map its pages.
   */
  async destroyDomain(domid: number): Promise<void> {
    const dom = this.domains.get(domid);
    if (!dom || dom.state !== 'running') return;
    dom.state = 'zombie';
    for (const c of [...dom.conns]) this.dropConnection(c);
    this.evtchn.removeDomain(domid);
    await closeServer(dom.server);
    rmSync(hvSocketPath(this.dir, domid), { force: true });
    this.maybeFinalize(dom);
  }

  domainState(domid: number): DomainState | undefined {
    return this.domains.get(domid)?.state;
  }

  /** Destroyed domains kept alive by others' mappings of their pages. */
  zombies(): number[] {
    return [...this.domains.values()].filter((d) => d.state === 'zombie').map((d) => d.domid);
  }

  /** Resolves once no zombie is left (or rejects after `timeoutMs`). */
  async waitNoZombies(timeoutMs: number): Promise<void> {
    if (this.zombies().length === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`zombie domains remain: ${this.zombies().join(', ')}`)),
        timeoutMs,
      );
      this.zombieWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  grantStats(domid: number): GrantStats | undefined {
    const d = this.domains.get(domid);
    if (!d) return undefined;
    let mappings = 0;
    for (const c of this.conns.values()) if (c.domid === domid) mappings += c.handles.size;
    return {
      pinnedEntries: d.active.pinnedEntries,
      mappings,
      mappedPages: d.mappedPages,
      allocatedPages: d.pages.usedPages,
      allocatedRefs: d.refs.used,
    };
  }

  evtchnStats(domid: number, port: number): PortStats | undefined {
    return this.evtchn.stats(domid, port);
  }

  portCount(domid: number): number {
    return this.evtchn.portCount(domid);
  }

  /** Protocol violations seen on a domain's connections (malformed frames, foreign ports). */
  violationCount(domid: number): number {
    return this.violations.get(domid) ?? 0;
  }

  connectionCount(domid: number): number {
    return this.domains.get(domid)?.conns.size ?? 0;
  }

  /** Stops every socket and forgets every domain (zombies included). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.domains.values()) {
      for (const c of [...d.conns]) this.dropConnection(c);
    }
    for (const d of [...this.domains.values()]) {
      if (d.state === 'running') {
        await closeServer(d.server);
        rmSync(hvSocketPath(this.dir, d.domid), { force: true });
      }
      this.finalize(d);
    }
  }

  private accept(domid: number, socket: Socket): void {
    const dom = this.domains.get(domid);
    if (!dom || dom.state !== 'running') {
      socket.destroy();
      return;
    }
    const c: Connection = {
      id: this.nextConnId++,
      domid,
      socket,
      reader: new FrameReader(),
      writer: new FrameWriter(socket),
      handles: new Map(),
      runs: new Map(),
      refs: new Set(),
      closed: false,
    };
    dom.conns.add(c);
    this.conns.set(c.id, c);
    socket.on('data', (chunk: Buffer) => {
      if (c.closed) return;
      const ok = c.reader.push(chunk, (f) => {
        if (!c.closed && !this.handle(c, f)) this.violation(c);
      });
      if (!ok) this.violation(c);
    });
    socket.on('error', () => this.dropConnection(c));
    socket.on('close', () => this.dropConnection(c));
  }

  private violation(c: Connection): void {
    this.violations.set(c.domid, (this.violations.get(c.domid) ?? 0) + 1);
    this.dropConnection(c);
  }

  /** Returns false on a malformed request (wrong argument count, unknown op). */
  private handle(c: Connection, f: Frame): boolean {
    const a = f.args;
    const reply = (words: ArrayLike<number>): void => {
      if (f.seq !== 0 && !c.closed) c.writer.write(HvOp.Reply, f.seq, words);
    };
    const dom = this.domains.get(c.domid)!;
    switch (f.op) {
      case HvOp.Info:
        reply([0, c.domid, dom.ramPages, dom.table.entries]);
        return true;
      case HvOp.Ping:
        reply([0]);
        return true;
      case HvOp.EvtchnAllocUnbound: {
        if (a.length !== 1) return false;
        const r = this.evtchn.allocUnbound(c.domid, c.id, a[0]!);
        reply(r.ok ? [0, r.value.port, r.value.gen] : [-r.errno, 0, 0]);
        return true;
      }
      case HvOp.EvtchnBindInterdomain: {
        if (a.length !== 2) return false;
        const r = this.evtchn.bindInterdomain(c.domid, c.id, a[0]!, a[1]!);
        reply(r.ok ? [0, r.value.port, r.value.gen, r.value.remoteGen] : [-r.errno, 0, 0, 0]);
        return true;
      }
      case HvOp.EvtchnClose: {
        if (a.length !== 1) return false;
        const r = this.evtchn.close(c.domid, c.id, a[0]!);
        reply([r.ok ? 0 : -r.errno]);
        return true;
      }
      case HvOp.EvtchnNotify: {
        if (a.length !== 1) return false;
        const r = this.evtchn.notify(c.domid, c.id, a[0]!);
        if (!r.ok) this.violations.set(c.domid, (this.violations.get(c.domid) ?? 0) + 1);
        return true;
      }
      case HvOp.GntMap:
        if (a.length < 2) return false;
        reply(this.map(c, a[0]!, (a[1]! & GNTMAP_FLAG_READONLY) === 0, a.subarray(2)));
        return true;
      case HvOp.GntCopyPage:
        if (a.length !== 2) return false;
        reply(this.copyPage(c, a[0]!, a[1]!));
        return true;
      case HvOp.GntUnmap: {
        if (a.length !== 1) return false;
        reply([this.unmap(c, a[0]!) ? 0 : -EINVAL]);
        return true;
      }
      case HvOp.MemAlloc: {
        if (a.length !== 1) return false;
        const first = a[0]! > 0 ? dom.pages.alloc(a[0]!) : undefined;
        if (first === undefined) reply([-ENOMEM, 0]);
        else {
          c.runs.set(first, a[0]!);
          reply([0, first]);
        }
        return true;
      }
      case HvOp.MemFree: {
        if (a.length !== 2) return false;
        if (c.runs.get(a[0]!) !== a[1]!) {
          reply([-EINVAL]);
          return true;
        }
        c.runs.delete(a[0]!);
        dom.pages.release(a[0]!, a[1]!);
        reply([0]);
        return true;
      }
      case HvOp.GntAllocRefs: {
        if (a.length !== 1) return false;
        const refs = a[0]! <= MAX_REFS_PER_MAP ? dom.refs.alloc(a[0]!) : undefined;
        if (!refs) reply([-ENOMEM]);
        else {
          for (const r of refs) c.refs.add(r);
          reply([0, ...refs]);
        }
        return true;
      }
      case HvOp.GntFreeRefs:
        for (const r of a) {
          if (!c.refs.delete(r)) continue;
          dom.active.whenIdle(r, () => dom.refs.release(r));
        }
        reply([0]);
        return true;
      case HvOp.GntReleaseDeferred: {
        if (a.length < 2) return false;
        const [first, pages] = [a[0]!, a[1]!];
        const run = c.runs.get(first) === pages ? { first, pages } : undefined;
        if (run) c.runs.delete(first);
        const refs = [...a.subarray(2)].filter((r) => c.refs.delete(r));
        this.releaseWhenIdle(dom, refs, run ? [run] : []);
        reply([0]);
        return true;
      }
      default:
        return false;
    }
  }

  private map(c: Connection, granterId: number, writable: boolean, refs: Uint32Array): ArrayLike<number> {
    // [errno, gntst, failIndex, reason, handle, frames...]
    if (refs.length === 0 || refs.length > MAX_REFS_PER_MAP) return [-EINVAL, 0, 0, MapFailReason.None, 0];
    const granter = this.domains.get(granterId);
    if (!granter || granter.state !== 'running') return [-EINVAL, GNTST_bad_domain, 0, MapFailReason.NoDomain, 0];
    const mapper = this.domains.get(c.domid)!;
    if (mapper.mappedPages + refs.length > this.maptrackLimit) {
      return [-EINVAL, GNTST_no_space, 0, MapFailReason.NoSpace, 0];
    }
    // The reply is built in place: one array for the whole answer, not one entry per page.
    const out = new Uint32Array(MAP_REPLY_HEADER + refs.length);
    for (let i = 0; i < refs.length; i++) {
      const failed = granter.active.pin(refs[i]!, c.domid, writable);
      if (failed) {
        for (let j = 0; j < i; j++) granter.active.unpin(refs[j]!, writable);
        return [-EINVAL, failed.status, i, failed.reason, 0];
      }
      out[MAP_REPLY_HEADER + i] = granter.active.frameOf(refs[i]!);
    }
    const handle = this.nextHandle++;
    // `refs` is this frame's own copy of the request (FrameReader copies it out of the socket).
    c.handles.set(handle, { granter: granterId, refs, writable });
    mapper.mappedPages += refs.length;
    out[0] = 0;
    out[1] = GNTST_okay;
    out[2] = 0;
    out[3] = MapFailReason.None;
    out[4] = handle;
    return out;
  }

  /** Xen's grant copy from a foreign grant: the entry is acquired for reading only while copying. */
  private copyPage(c: Connection, granterId: number, ref: number): ArrayLike<number> {
    // [errno, gntst, reason, page words...]
    const granter = this.domains.get(granterId);
    if (!granter || granter.state !== 'running') return [-EINVAL, GNTST_bad_domain, MapFailReason.NoDomain];
    const failed = granter.active.pin(ref, c.domid, false);
    if (failed) return [-EINVAL, failed.status, failed.reason];
    const out = new Uint32Array(COPY_REPLY_HEADER + PAGE / 4);
    try {
      granter.ramFd ??= openSync(ramPath(this.dir, granterId), 'r');
      const bytes = new Uint8Array(out.buffer, COPY_REPLY_HEADER * 4, PAGE);
      if (readSync(granter.ramFd, bytes, 0, PAGE, granter.active.frameOf(ref) * PAGE) !== PAGE)
        return [-EINVAL, GNTST_bad_page, MapFailReason.None];
    } finally {
      granter.active.unpin(ref, false);
    }
    out[0] = 0;
    out[1] = GNTST_okay;
    out[2] = MapFailReason.None;
    return out;
  }

  private unmap(c: Connection, handle: number): boolean {
    const h = c.handles.get(handle);
    if (!h) return false;
    c.handles.delete(handle);
    const mapper = this.domains.get(c.domid);
    if (mapper) mapper.mappedPages -= h.refs.length;
    const granter = this.domains.get(h.granter);
    if (!granter) return true;
    for (const r of h.refs) granter.active.unpin(r, h.writable);
    this.maybeFinalize(granter);
    return true;
  }

  /** Ends access to each ref once unmapped, then frees refs, then the frame runs. */
  private releaseWhenIdle(
    dom: Domain,
    refs: readonly number[],
    runs: readonly { first: number; pages: number }[],
  ): void {
    let left = refs.length;
    const freeRuns = (): void => {
      if (dom.state !== 'running') return; // the domain's memory goes with it
      for (const r of runs) dom.pages.release(r.first, r.pages);
    };
    if (left === 0) {
      freeRuns();
      return;
    }
    for (const ref of refs) {
      dom.active.whenIdle(ref, () => {
        dom.table.endAccess(ref);
        dom.refs.release(ref);
        if (--left === 0) freeRuns();
      });
    }
  }

  private dropConnection(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    c.socket.destroy();
    this.conns.delete(c.id);
    this.domains.get(c.domid)?.conns.delete(c);
    for (const handle of [...c.handles.keys()]) this.unmap(c, handle);
    this.evtchn.closeOwnedBy(c.id);
    const dom = this.domains.get(c.domid);
    if (dom && dom.state === 'running') {
      this.releaseWhenIdle(
        dom,
        [...c.refs],
        [...c.runs].map(([first, pages]) => ({ first, pages })),
      );
    }
    c.refs.clear();
    c.runs.clear();
  }

  private maybeFinalize(dom: Domain): void {
    if (dom.state === 'zombie' && dom.active.pinnedEntries === 0 && this.domains.get(dom.domid) === dom) {
      this.finalize(dom);
      if (this.zombies().length === 0) for (const w of this.zombieWaiters.splice(0)) w();
    }
  }

  private finalize(dom: Domain): void {
    this.domains.delete(dom.domid);
    this.evtchn.removeDomain(dom.domid);
    dom.gnttab.unmap();
    if (dom.ramFd !== undefined) closeSync(dom.ramFd);
    dom.ramFd = undefined;
    rmSync(ramPath(this.dir, dom.domid), { force: true });
    rmSync(grantTablePath(this.dir, dom.domid), { force: true });
  }
}

function makeFile(path: string, size: number): void {
  const fd = openSync(path, 'w+', 0o600);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
