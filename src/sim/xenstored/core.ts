// The request engine of the simulated xenstored: connections bound to a domain, the live tree,
// transactions, watches, domain introduction and release. It never touches a socket: the server
// feeds it bytes and gives it a way to send and to hang up, so it can be driven directly too.
import type { XsPerm } from '../../xenstore/types.js';
import { domainPath, isSpecialPath, pathProblem, describePathProblem } from '../../xenstore/paths.js';
import { formatPerm, parsePerm } from '../../xenstore/perms.js';
import {
  ABS_PATH_MAX,
  FrameDecoder,
  FrameTooLargeError,
  PAYLOAD_MAX,
  XsType,
  encodeMessage,
  joinStrings,
  splitArgs,
  xsTypeName,
  type XsMessage,
} from '../../xenstore/wire.js';
import { accessFor, type Caller } from './access.js';
import { XsFailure, fail } from './failure.js';
import * as ops from './operations.js';
import type { ChangeEvent, OpContext, View } from './operations.js';
import { DEFAULT_QUOTAS, type Quotas } from './quotas.js';
import { Transaction } from './transaction.js';
import { Tree } from './tree.js';
import { firedPath, reportedPath, watchKey, type Watch } from './watches.js';

/** How the engine answers and hangs up on one connection. */
export interface ConnectionIo {
  send(frame: Buffer): void;
  /** Hang up; must not call back into the engine. */
  close(): void;
}

export interface XenstoredCoreOptions {
  readonly quotas?: Partial<Quotas>;
  /** One line per notable thing (refused frames, internal errors). */
  readonly log?: (line: string) => void;
  /** A domain was introduced over the wire (XS_INTRODUCE from dom0). */
  readonly onIntroduce?: (domid: number) => void;
  /** A domain was released over the wire (XS_RELEASE from dom0). */
  readonly onRelease?: (domid: number) => void;
}

export interface XenstoredStats {
  readonly connections: number;
  readonly watches: number;
  readonly transactions: number;
  readonly nodes: number;
  readonly introduced: readonly number[];
}

/** The special watch paths and the nodes that hold their permissions. */
const SPECIAL_NODES = ['@introduceDomain', '@releaseDomain'] as const;
const OK = Buffer.from('OK\0');
const DOMID_RE = /^\d{1,5}$/;
/** The last real domain id (DOMID_FIRST_RESERVED - 1). */
const DOMID_LAST = 0x7fef;

export class CoreConnection {
  readonly watches = new Map<string, Watch>();
  readonly transactions = new Map<number, Transaction>();
  private readonly decoder = new FrameDecoder();
  private closed = false;

  constructor(
    readonly id: number,
    readonly domid: number,
    private readonly io: ConnectionIo,
    private readonly core: XenstoredCore,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes from the client. A frame longer than the protocol allows gets the connection dropped, as xenstored does. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    let msgs: XsMessage[];
    try {
      msgs = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err;
      this.core.log(`connection ${this.id} (dom${this.domid}): ${err.message}; dropped`);
      this.close();
      return;
    }
    for (const m of msgs) {
      if (this.closed) return;
      this.core.dispatch(this, m);
    }
  }

  send(frame: Buffer): void {
    if (!this.closed) this.io.send(frame);
  }

  /** Idempotent: forgets its watches and transactions and hangs up. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watches.clear();
    this.transactions.clear();
    this.core.detach(this);
    this.io.close();
  }
}

export class XenstoredCore {
  readonly quotas: Quotas;
  private gen = 0;
  private readonly live: Tree;
  private readonly liveView: View;
  private nextTx = 0;
  private nextConn = 0;
  private readonly conns = new Set<CoreConnection>();
  private readonly introduced = new Set<number>();
  private readonly targets = new Map<number, number>();
  private readonly specialPerms = new Map<string, readonly XsPerm[]>(
    SPECIAL_NODES.map((s) => [s, [{ domid: 0, access: 'n' }]]),
  );

  constructor(private readonly opts: XenstoredCoreOptions = {}) {
    this.quotas = { ...DEFAULT_QUOTAS, ...opts.quotas };
    this.live = Tree.fresh(this.bump());
    this.liveView = { tree: this.live, touch: () => undefined };
  }

  log(line: string): void {
    this.opts.log?.(line);
  }

  /** A new connection acting for `domid` (0: the privileged toolstack). */
  attach(domid: number, io: ConnectionIo): CoreConnection {
    const conn = new CoreConnection(++this.nextConn, domid, io, this);
    this.conns.add(conn);
    return conn;
  }

  /** Called by CoreConnection.close only. */
  detach(conn: CoreConnection): void {
    this.conns.delete(conn);
  }

  isIntroduced(domid: number): boolean {
    return this.introduced.has(domid);
  }

  /** Marks `domid` introduced and fires @introduceDomain; false if it already was. */
  introduceDomain(domid: number): boolean {
    if (!Number.isInteger(domid) || domid < 1 || domid > DOMID_LAST) throw new RangeError(`bad domain id ${domid}`);
    if (this.introduced.has(domid)) return false;
    this.introduced.add(domid);
    this.fire({ path: '@introduceDomain', recursive: false, perms: [] });
    return true;
  }

  /**
   * Forgets `domid`: drops its connections (their watches and transactions with them), hands the
   * nodes it owned to dom0 (so a later domain reusing the id owns nothing), fires @releaseDomain.
   */
  releaseDomain(domid: number): boolean {
    if (!this.introduced.delete(domid)) return false;
    for (const c of [...this.conns]) if (c.domid === domid) c.close();
    this.targets.delete(domid);
    for (const path of [...this.live.paths()]) {
      const node = this.live.get(path)!;
      if (node.perms[0]!.domid !== domid) continue;
      const perms = [{ domid: 0, access: node.perms[0]!.access }, ...node.perms.slice(1)];
      this.live.put(path, { ...node, perms, gen: this.bump() });
    }
    this.fire({ path: '@releaseDomain', recursive: false, perms: [] });
    return true;
  }

  stats(): XenstoredStats {
    let watches = 0;
    let transactions = 0;
    for (const c of this.conns) {
      watches += c.watches.size;
      transactions += c.transactions.size;
    }
    return {
      connections: this.conns.size,
      watches,
      transactions,
      nodes: this.live.size,
      introduced: [...this.introduced].sort((a, b) => a - b),
    };
  }

  /** Answers one request: one reply, then any watch events it caused. */
  dispatch(conn: CoreConnection, msg: XsMessage): void {
    const events: ChangeEvent[] = [];
    const own: [string, string][] = [];
    let type: number = msg.type;
    let body: Buffer;
    try {
      body = this.handle(conn, msg, events, own);
    } catch (err) {
      type = XsType.ERROR;
      if (err instanceof XsFailure) {
        body = Buffer.from(`${err.xsError}\0`);
      } else {
        this.log(
          `internal error on ${xsTypeName(msg.type)} from dom${conn.domid}: ${err instanceof Error ? err.stack : String(err)}`,
        );
        body = Buffer.from('EIO\0');
      }
      events.length = 0;
      own.length = 0;
    }
    conn.send(encodeMessage(type, msg.reqId, msg.txId, body));
    for (const [path, token] of own) conn.send(encodeMessage(XsType.WATCH_EVENT, 0, 0, joinStrings([path, token])));
    for (const ev of events) this.fire(ev);
  }

  private bump(): number {
    return ++this.gen;
  }

  private callerOf(conn: CoreConnection): Caller {
    return { domid: conn.domid, privileged: conn.domid === 0, target: this.targets.get(conn.domid) };
  }

  /** Validates a path from the wire and makes it absolute (relative paths are under the caller's home). */
  private resolve(conn: CoreConnection, raw: string | undefined, allowSpecial = false): string {
    if (raw === undefined) fail('EINVAL', 'missing path');
    const problem = pathProblem(raw, allowSpecial);
    if (problem !== undefined) fail('EINVAL', describePathProblem(problem));
    if (isSpecialPath(raw) || raw.startsWith('/')) return raw;
    const abs = `${domainPath(conn.domid)}/${raw}`;
    if (abs.length > ABS_PATH_MAX) fail('EINVAL', 'path too long');
    return abs;
  }

  private domidArg(raw: string | undefined): number {
    if (raw === undefined || !DOMID_RE.test(raw)) fail('EINVAL', 'bad domain id');
    const d = Number(raw);
    if (d > 0xffff) fail('EINVAL', 'bad domain id');
    return d;
  }

  private requirePrivileged(conn: CoreConnection): void {
    if (conn.domid !== 0) fail('EACCES');
  }

  /** The operation context for a request: its transaction's view when tx_id names one. */
  private context(
    conn: CoreConnection,
    msg: XsMessage,
    events: ChangeEvent[],
  ): { ctx: OpContext; sink: ChangeEvent[] } {
    const caller = this.callerOf(conn);
    const nextGen = (): number => this.bump();
    if (msg.txId === 0) return { ctx: { view: this.liveView, caller, quotas: this.quotas, nextGen }, sink: events };
    const tx = conn.transactions.get(msg.txId) ?? fail('ENOENT', `no transaction ${msg.txId}`);
    return { ctx: { view: tx, caller, quotas: this.quotas, nextGen }, sink: tx.events };
  }

  private handle(conn: CoreConnection, msg: XsMessage, events: ChangeEvent[], own: [string, string][]): Buffer {
    const args = splitArgs(msg.payload);
    switch (msg.type) {
      case XsType.READ: {
        const { ctx } = this.context(conn, msg, events);
        return ops.read(ctx, this.resolve(conn, args[0]));
      }
      case XsType.WRITE: {
        const nul = msg.payload.indexOf(0);
        if (nul < 0) fail('EINVAL', 'WRITE without a value');
        const path = this.resolve(conn, msg.payload.subarray(0, nul).toString('utf8'));
        const { ctx, sink } = this.context(conn, msg, events);
        sink.push(...ops.write(ctx, path, Buffer.from(msg.payload.subarray(nul + 1))));
        return OK;
      }
      case XsType.MKDIR: {
        const { ctx, sink } = this.context(conn, msg, events);
        sink.push(...ops.mkdir(ctx, this.resolve(conn, args[0])));
        return OK;
      }
      case XsType.RM: {
        const { ctx, sink } = this.context(conn, msg, events);
        sink.push(...ops.rm(ctx, this.resolve(conn, args[0])));
        return OK;
      }
      case XsType.DIRECTORY: {
        const { ctx } = this.context(conn, msg, events);
        const out = joinStrings(ops.directory(ctx, this.resolve(conn, args[0])).children);
        if (out.length > PAYLOAD_MAX) fail('E2BIG', 'children do not fit one reply; use DIRECTORY_PART');
        return out;
      }
      case XsType.DIRECTORY_PART:
        return this.directoryPart(conn, msg, events, args);
      case XsType.GET_PERMS: {
        const path = this.resolve(conn, args[0], true);
        if (isSpecialPath(path)) return joinStrings(this.special(conn, path, 'read').map(formatPerm));
        const { ctx } = this.context(conn, msg, events);
        return joinStrings(ops.getPerms(ctx, path).map(formatPerm));
      }
      case XsType.SET_PERMS: {
        const path = this.resolve(conn, args[0], true);
        const perms = args.slice(1).map((s) => parsePerm(s) ?? fail('EINVAL', `bad permission '${s}'`));
        if (isSpecialPath(path)) {
          this.requirePrivileged(conn);
          this.special(conn, path, 'read');
          if (perms.length === 0) fail('EINVAL', 'no permissions given');
          this.specialPerms.set(path, perms);
          return OK;
        }
        const { ctx, sink } = this.context(conn, msg, events);
        sink.push(...ops.setPerms(ctx, path, perms));
        return OK;
      }
      case XsType.WATCH:
        return this.watch(conn, args, own);
      case XsType.UNWATCH: {
        const path = args[0];
        const token = args[1];
        if (path === undefined || token === undefined) fail('EINVAL', 'UNWATCH needs a path and a token');
        if (!conn.watches.delete(watchKey(path, token))) fail('ENOENT');
        return OK;
      }
      case XsType.RESET_WATCHES:
        conn.watches.clear();
        conn.transactions.clear();
        return OK;
      case XsType.TRANSACTION_START: {
        if (msg.txId !== 0) fail('EBUSY', 'TRANSACTION_START inside a transaction');
        const caller = this.callerOf(conn);
        if (!caller.privileged && conn.transactions.size >= this.quotas.transactionsPerConnection) {
          fail('ENOSPC', `more than ${this.quotas.transactionsPerConnection} open transactions`);
        }
        let id = 0;
        do id = this.nextTx = (this.nextTx + 1) >>> 0;
        while (id === 0 || conn.transactions.has(id));
        conn.transactions.set(
          id,
          new Transaction(id, this.live, caller.privileged ? undefined : this.quotas.nodesPerTransaction),
        );
        return Buffer.from(`${id}\0`);
      }
      case XsType.TRANSACTION_END: {
        const tx = conn.transactions.get(msg.txId) ?? fail('ENOENT', `no transaction ${msg.txId}`);
        const verdict = args[0];
        if (verdict !== 'T' && verdict !== 'F') fail('EINVAL', 'TRANSACTION_END takes T or F');
        conn.transactions.delete(msg.txId);
        if (verdict === 'F') return OK;
        if (tx.conflictsWith(this.live)) fail('EAGAIN');
        tx.applyTo(this.live);
        events.push(...tx.events);
        return OK;
      }
      case XsType.GET_DOMAIN_PATH:
        return Buffer.from(`${domainPath(this.domidArg(args[0]))}\0`);
      case XsType.IS_DOMAIN_INTRODUCED:
        return Buffer.from(this.introduced.has(this.domidArg(args[0])) || args[0] === '0' ? 'T\0' : 'F\0');
      case XsType.INTRODUCE: {
        this.requirePrivileged(conn);
        const domid = this.domidArg(args[0]);
        if (domid === 0 || domid > DOMID_LAST) fail('EINVAL', 'not a guest domain id');
        if (args[1] === undefined || args[2] === undefined)
          fail('EINVAL', 'INTRODUCE needs domid, mfn and event channel');
        if (this.introduceDomain(domid)) this.opts.onIntroduce?.(domid);
        return OK;
      }
      case XsType.RELEASE: {
        this.requirePrivileged(conn);
        const domid = this.domidArg(args[0]);
        if (domid === 0) fail('EINVAL', 'dom0 cannot be released');
        if (!this.releaseDomain(domid)) fail('ENOENT');
        this.opts.onRelease?.(domid);
        return OK;
      }
      case XsType.RESUME: {
        this.requirePrivileged(conn);
        if (!this.introduced.has(this.domidArg(args[0]))) fail('ENOENT');
        return OK;
      }
      case XsType.SET_TARGET: {
        this.requirePrivileged(conn);
        const domid = this.domidArg(args[0]);
        const target = this.domidArg(args[1]);
        if (domid === 0) fail('EINVAL', 'dom0 needs no target');
        this.targets.set(domid, target);
        return OK;
      }
      case XsType.CONTROL: {
        this.requirePrivileged(conn);
        if (args[0] === 'help') return joinStrings(['help', 'print']);
        if (args[0] === 'print') {
          this.log(`control print: ${args.slice(1).join(' ')}`);
          return OK;
        }
        fail('EINVAL', `unknown control command ${args[0] ?? ''}`);
        break;
      }
      default:
        fail('EINVAL', `unknown request ${xsTypeName(msg.type)}`);
    }
  }

  private watch(conn: CoreConnection, args: string[], own: [string, string][]): Buffer {
    const path = args[0];
    const token = args[1];
    if (token === undefined) fail('EINVAL', 'WATCH needs a path and a token');
    const abs = this.resolve(conn, path, true);
    const key = watchKey(path!, token);
    if (conn.watches.has(key)) fail('EEXIST');
    if (conn.domid !== 0 && conn.watches.size >= this.quotas.watchesPerConnection) {
      fail('E2BIG', `more than ${this.quotas.watchesPerConnection} watches`);
    }
    const relativeTo = isSpecialPath(path!) || path!.startsWith('/') ? undefined : domainPath(conn.domid);
    conn.watches.set(key, { path: path!, abs, token, relativeTo });
    // xenstored fires every new watch once, so its owner reads the current state.
    own.push([path!, token]);
    return OK;
  }

  private directoryPart(conn: CoreConnection, msg: XsMessage, events: ChangeEvent[], args: string[]): Buffer {
    const { ctx } = this.context(conn, msg, events);
    const node = ops.directory(ctx, this.resolve(conn, args[0]));
    const offRaw = args[1];
    if (offRaw === undefined || !/^\d+$/.test(offRaw)) fail('EINVAL', 'bad offset');
    const all = joinStrings(node.children);
    const offset = Number(offRaw);
    if (offset > all.length) fail('EINVAL', 'offset beyond the children');
    const head = Buffer.from(`${node.gen}\0`);
    const room = PAYLOAD_MAX - head.length;
    const rest = all.subarray(offset);
    // A final empty string marks the end of the list; a part that ends without it has more to come.
    if (rest.length + 1 <= room) return Buffer.concat([head, rest, Buffer.alloc(1)]);
    const cut = rest.subarray(0, room).lastIndexOf(0) + 1;
    return Buffer.concat([head, rest.subarray(0, cut)]);
  }

  /** Permissions of a special node, after checking the caller may `need` them. */
  private special(conn: CoreConnection, path: string, need: 'read'): readonly XsPerm[] {
    const perms = this.specialPerms.get(path) ?? fail('ENOENT');
    if (!accessFor(this.callerOf(conn), perms)[need]) fail('EACCES');
    return perms;
  }

  /** Sends the event to every watch it reaches whose owner may read the changed node. */
  private fire(ev: ChangeEvent): void {
    const perms = isSpecialPath(ev.path) ? (this.specialPerms.get(ev.path) ?? []) : ev.perms;
    for (const conn of this.conns) {
      if (conn.watches.size === 0) continue;
      const mayRead = perms.length === 0 ? conn.domid === 0 : accessFor(this.callerOf(conn), perms).read;
      if (!mayRead) continue;
      for (const w of conn.watches.values()) {
        const abs = firedPath(w.abs, ev.path, ev.recursive);
        if (abs === undefined) continue;
        conn.send(encodeMessage(XsType.WATCH_EVENT, 0, 0, joinStrings([reportedPath(w, abs), w.token])));
      }
    }
  }
}
