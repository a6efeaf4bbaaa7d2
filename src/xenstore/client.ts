// The XenStore client: many requests in flight matched by req_id, watch events delivered in the
// order xenstored sent them, transactions with bounded EAGAIN retries, and reconnection with
// back-off after xenstored restarts (every watch re-registered, hence fired once).
import type { XenStore, XsOps, XsPerm, XsWatch } from './types.js';
import { XenStoreError } from './types.js';
import * as codec from './codec.js';
import type { Built, Parsed } from './codec.js';
import { selectTransport, type Environment, type TransportChoice } from './select-transport.js';
import type { Transport, TransportStream } from './transport.js';
import {
  FrameDecoder,
  FrameTooLargeError,
  XsType,
  encodeMessage,
  joinStrings,
  xsTypeName,
  type XsMessage,
} from './wire.js';

export interface ReconnectPolicy {
  /** First delay after a drop, doubled per failed attempt (default 50 ms). */
  readonly initialDelayMs?: number;
  /** Ceiling of the delay (default 5000 ms). */
  readonly maxDelayMs?: number;
}

export interface ConnectOptions {
  /** A transport, or how to choose one (default 'auto': the socket, else the xenbus device). */
  readonly transport?: Transport | TransportChoice;
  /** Where XENSTORED_PATH is read from (default process.env). */
  readonly env?: Environment;
  /** false: a dropped connection stays dropped and every request fails. */
  readonly reconnect?: ReconnectPolicy | false;
  /** One line per notable event: connection lost/restored, malformed frames. */
  readonly log?: (line: string) => void;
}

export interface XenStoreClientStats {
  readonly connected: boolean;
  readonly pending: number;
  readonly watches: number;
  readonly reconnects: number;
  /** Frames from xenstored that were dropped as malformed or unexpected. */
  readonly badFrames: number;
}

interface Pending {
  readonly type: number;
  readonly path: string | undefined;
  resolve(payload: Buffer): void;
  reject(err: XenStoreError): void;
}

interface WatchEntry {
  readonly path: string;
  readonly token: string;
  readonly onEvent: (changedPath: string) => void;
  closed: boolean;
}

type State =
  | { readonly kind: 'connected'; readonly stream: TransportStream; readonly decoder: FrameDecoder }
  | { readonly kind: 'reconnecting'; timer: NodeJS.Timeout | undefined; attempt: number }
  | { readonly kind: 'closed' };

const DEFAULT_RETRIES = 16;

export class XenStoreClient implements XenStore {
  private state: State;
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, WatchEntry>();
  private nextReqId = 0;
  private nextToken = 0;
  private reconnects = 0;
  private badFrames = 0;
  private readonly log: (line: string) => void;
  private readonly policy: Required<ReconnectPolicy> | false;

  private constructor(
    private readonly transport: Transport,
    opts: ConnectOptions,
  ) {
    this.log = opts.log ?? ((): void => undefined);
    this.policy = opts.reconnect === false ? false : { initialDelayMs: 50, maxDelayMs: 5000, ...opts.reconnect };
    this.state = { kind: 'reconnecting', timer: undefined, attempt: 0 };
  }

  /** Connects once; rejects with a message naming every endpoint tried if none answers. */
  static async connect(opts: ConnectOptions = {}): Promise<XenStoreClient> {
    const t = opts.transport;
    const transport =
      t === undefined || typeof t === 'string' ? selectTransport(t ?? 'auto', opts.env ?? process.env) : t;
    const client = new XenStoreClient(transport, opts);
    await client.open();
    return client;
  }

  get description(): string {
    return this.transport.description;
  }

  stats(): XenStoreClientStats {
    return {
      connected: this.state.kind === 'connected',
      pending: this.pending.size,
      watches: this.watches.size,
      reconnects: this.reconnects,
      badFrames: this.badFrames,
    };
  }

  // ---- XsOps outside a transaction -------------------------------------------------------------

  read(path: string): Promise<string> {
    return this.ops(0).read(path);
  }
  tryRead(path: string): Promise<string | undefined> {
    return this.ops(0).tryRead(path);
  }
  write(path: string, value: string): Promise<void> {
    return this.ops(0).write(path, value);
  }
  mkdir(path: string): Promise<void> {
    return this.ops(0).mkdir(path);
  }
  rm(path: string): Promise<void> {
    return this.ops(0).rm(path);
  }
  directory(path: string): Promise<string[]> {
    return this.ops(0).directory(path);
  }
  getPerms(path: string): Promise<XsPerm[]> {
    return this.ops(0).getPerms(path);
  }
  setPerms(path: string, perms: readonly XsPerm[]): Promise<void> {
    return this.ops(0).setPerms(path, perms);
  }

  async getDomainPath(domid: number): Promise<string> {
    const reply = await this.send(XsType.GET_DOMAIN_PATH, 0, codec.domidRequest(domid), undefined);
    return this.parsed(codec.parseString(reply), XsType.GET_DOMAIN_PATH, undefined);
  }

  // ---- watches ---------------------------------------------------------------------------------

  async watch(path: string, onEvent: (changedPath: string) => void): Promise<XsWatch> {
    const token = `vdispld:${++this.nextToken}`;
    const req = codec.watchRequest(path, token);
    const entry: WatchEntry = { path, token, onEvent, closed: false };
    // Registered before the request leaves, so the event xenstored fires right after its reply is not lost.
    this.watches.set(token, entry);
    try {
      this.parsed(codec.parseOk(await this.send(XsType.WATCH, 0, req, path)), XsType.WATCH, path);
    } catch (err) {
      entry.closed = true;
      this.watches.delete(token);
      throw err;
    }
    let closing: Promise<void> | undefined;
    return {
      path,
      token,
      close: () => {
        closing ??= this.unwatch(entry);
        return closing;
      },
    };
  }

  private async unwatch(entry: WatchEntry): Promise<void> {
    entry.closed = true;
    this.watches.delete(entry.token);
    if (this.state.kind !== 'connected') return;
    try {
      await this.send(XsType.UNWATCH, 0, codec.watchRequest(entry.path, entry.token), entry.path);
    } catch (err) {
      // Gone already (xenstored restarted, or we are closing): nothing left to undo.
      if (!(err instanceof XenStoreError) || (err.xsError !== 'ENOENT' && err.xsError !== 'ECONNRESET')) throw err;
    }
  }

  // ---- transactions ----------------------------------------------------------------------------

  async transaction<T>(fn: (tx: XsOps) => Promise<T>, opts: { retries?: number } = {}): Promise<T> {
    const retries = opts.retries ?? DEFAULT_RETRIES;
    for (let attempt = 0; ; attempt++) {
      const started = await this.send(XsType.TRANSACTION_START, 0, { ok: true, payload: Buffer.from([0]) }, undefined);
      const txId = this.parsed(codec.parseTxId(started), XsType.TRANSACTION_START, undefined);
      const tx = this.ops(txId);
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        tx.end();
        await this.endTransaction(txId, false).catch(() => undefined);
        if (isEagain(err) && attempt < retries) continue;
        throw err;
      }
      tx.end();
      try {
        await this.endTransaction(txId, true);
        return result;
      } catch (err) {
        if (!isEagain(err)) throw err;
        if (attempt >= retries) {
          throw new XenStoreError(
            'EAGAIN',
            undefined,
            `xenstore: transaction still conflicting after ${retries + 1} attempts`,
          );
        }
      }
    }
  }

  private async endTransaction(txId: number, commit: boolean): Promise<void> {
    const reply = await this.send(
      XsType.TRANSACTION_END,
      txId,
      { ok: true, payload: joinStrings([commit ? 'T' : 'F']) },
      undefined,
    );
    this.parsed(codec.parseOk(reply), XsType.TRANSACTION_END, undefined);
  }

  /** The operations bound to one transaction (0: none). A transaction's set refuses use after it ends. */
  private ops(txId: number): XsOps & { end(): void } {
    let ended = false;
    const send = (type: number, req: Built, path: string): Promise<Buffer> =>
      ended
        ? Promise.reject(
            new XenStoreError(
              'EINVAL',
              path,
              `xenstore: transaction ${txId} already ended; ${xsTypeName(type)} ${path} refused`,
            ),
          )
        : this.send(type, txId, req, path);
    const ok = async (type: number, req: Built, path: string): Promise<void> => {
      this.parsed(codec.parseOk(await send(type, req, path)), type, path);
    };
    const read = async (path: string): Promise<string> =>
      (await send(XsType.READ, codec.pathRequest(path), path)).toString('utf8');
    return {
      end: () => {
        ended = true;
      },
      read,
      tryRead: async (path) => {
        try {
          return await read(path);
        } catch (err) {
          if (err instanceof XenStoreError && err.xsError === 'ENOENT') return undefined;
          throw err;
        }
      },
      write: (path, value) => ok(XsType.WRITE, codec.writeRequest(path, value), path),
      mkdir: (path) => ok(XsType.MKDIR, codec.pathRequest(path), path),
      rm: (path) => ok(XsType.RM, codec.pathRequest(path), path),
      setPerms: (path, perms) => ok(XsType.SET_PERMS, codec.setPermsRequest(path, perms), path),
      directory: async (path) =>
        this.parsed(
          codec.parseDirectory(await send(XsType.DIRECTORY, codec.pathRequest(path), path)),
          XsType.DIRECTORY,
          path,
        ),
      getPerms: async (path) =>
        this.parsed(
          codec.parsePerms(await send(XsType.GET_PERMS, codec.pathRequest(path, true), path)),
          XsType.GET_PERMS,
          path,
        ),
    };
  }

  // ---- requests --------------------------------------------------------------------------------

  private parsed<T>(p: Parsed<T>, type: number, path: string | undefined): T {
    if (p.ok) return p.value;
    this.badFrames++;
    throw new XenStoreError(
      'EPROTO',
      path,
      `xenstore: malformed ${xsTypeName(type)} reply${path !== undefined ? ` for ${path}` : ''}: ${p.why}`,
    );
  }

  private send(type: number, txId: number, req: Built, path: string | undefined): Promise<Buffer> {
    if (!req.ok)
      return Promise.reject(new XenStoreError(req.problem.xsError, path, `xenstore: ${req.problem.message}`));
    const state = this.state;
    if (state.kind !== 'connected') {
      const why =
        state.kind === 'closed' ? 'client closed' : `not connected to ${this.transport.description} (reconnecting)`;
      return Promise.reject(
        new XenStoreError(
          'ECONNRESET',
          path,
          `xenstore: ${xsTypeName(type)}${path !== undefined ? ` ${path}` : ''} failed: ${why}`,
        ),
      );
    }
    let reqId: number;
    do reqId = this.nextReqId = (this.nextReqId + 1) >>> 0;
    while (this.pending.has(reqId));
    return new Promise((resolve, reject) => {
      this.pending.set(reqId, { type, path, resolve, reject });
      state.stream.write(encodeMessage(type, reqId, txId, req.payload));
    });
  }

  private onFrame(msg: XsMessage): void {
    if (msg.type === XsType.WATCH_EVENT) {
      const ev = codec.parseWatchEvent(msg.payload);
      if (!ev.ok) {
        this.badFrames++;
        this.log(`xenstore: dropped a malformed watch event (${ev.why})`);
        return;
      }
      const w = this.watches.get(ev.value.token);
      if (w === undefined || w.closed) return;
      try {
        w.onEvent(ev.value.path);
      } catch (err) {
        this.log(`xenstore: watch callback for ${w.path} threw: ${err instanceof Error ? err.message : String(err)}`);
      }
      return;
    }
    const p = this.pending.get(msg.reqId);
    if (p === undefined) {
      this.badFrames++;
      this.log(`xenstore: dropped a ${xsTypeName(msg.type)} reply to unknown request ${msg.reqId}`);
      return;
    }
    this.pending.delete(msg.reqId);
    if (msg.type === XsType.ERROR) {
      const e = codec.parseError(msg.payload);
      if (e.ok) p.reject(new XenStoreError(e.value, p.path));
      else {
        this.badFrames++;
        p.reject(new XenStoreError('EPROTO', p.path, `xenstore: ${e.why} to ${xsTypeName(p.type)}`));
      }
    } else if (msg.type !== p.type) {
      this.badFrames++;
      p.reject(
        new XenStoreError('EPROTO', p.path, `xenstore: ${xsTypeName(p.type)} answered with ${xsTypeName(msg.type)}`),
      );
    } else {
      p.resolve(msg.payload);
    }
  }

  private failPending(xsError: 'ECONNRESET' | 'EPROTO', why: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      p.reject(
        new XenStoreError(
          xsError,
          p.path,
          `xenstore: ${xsTypeName(p.type)}${p.path !== undefined ? ` ${p.path}` : ''} failed: ${why}`,
        ),
      );
    }
  }

  // ---- connection lifecycle --------------------------------------------------------------------

  private async open(): Promise<void> {
    const decoder = new FrameDecoder();
    let stream: TransportStream | undefined = undefined;
    const current = (): boolean => this.state.kind === 'connected' && this.state.stream === stream;
    stream = await this.transport.open({
      onData: (chunk) => {
        if (!current()) return;
        let frames: XsMessage[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw err;
          this.badFrames++;
          this.dropped('EPROTO', `protocol violation from xenstored (${err.message})`);
          return;
        }
        for (const f of frames) {
          if (!current()) return;
          this.onFrame(f);
        }
      },
      onClose: (err) => {
        if (current())
          this.dropped(
            'ECONNRESET',
            `connection to ${this.transport.description} lost${err ? ` (${err.message})` : ''}`,
          );
      },
    });
    if (this.state.kind === 'closed') {
      stream.close();
      return;
    }
    this.state = { kind: 'connected', stream, decoder };
  }

  private dropped(xsError: 'ECONNRESET' | 'EPROTO', why: string): void {
    if (this.state.kind !== 'connected') return;
    this.state.stream.close();
    this.log(`xenstore: ${why}`);
    this.state = { kind: 'reconnecting', timer: undefined, attempt: 0 };
    this.failPending(xsError, why);
    if (this.policy !== false) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const st = this.state;
    if (st.kind !== 'reconnecting' || this.policy === false) return;
    const delay = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** Math.min(st.attempt, 20));
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.open().then(
        () => this.restored(),
        (err: unknown) => {
          if (this.state !== st) return;
          st.attempt++;
          if (st.attempt === 1 || st.attempt % 10 === 0) {
            this.log(
              `xenstore: reconnect attempt ${st.attempt} failed: ${err instanceof Error ? err.message : String(err)}`,
            );
          }
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  /** Re-registers every watch; xenstored fires each once on registration, so owners re-read their state. */
  private restored(): void {
    if (this.state.kind !== 'connected') return;
    this.reconnects++;
    this.log(`xenstore: reconnected to ${this.transport.description}; re-registering ${this.watches.size} watches`);
    for (const w of this.watches.values()) void this.reregister(w);
  }

  private async reregister(w: WatchEntry): Promise<void> {
    try {
      this.parsed(
        codec.parseOk(await this.send(XsType.WATCH, 0, codec.watchRequest(w.path, w.token), w.path)),
        XsType.WATCH,
        w.path,
      );
    } catch (err) {
      this.log(
        `xenstore: could not re-register the watch on ${w.path}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Idempotent: fails what is in flight, stops reconnecting, forgets every watch. */
  async close(): Promise<void> {
    const st = this.state;
    if (st.kind === 'closed') return;
    this.state = { kind: 'closed' };
    if (st.kind === 'connected') st.stream.close();
    if (st.kind === 'reconnecting' && st.timer !== undefined) clearTimeout(st.timer);
    for (const w of this.watches.values()) w.closed = true;
    this.watches.clear();
    this.failPending('ECONNRESET', 'client closed');
    await Promise.resolve();
  }
}

function isEagain(err: unknown): boolean {
  return err instanceof XenStoreError && err.xsError === 'EAGAIN';
}
