// The live viewer: an HTTP page and a WebSocket that sends each guest connector's frames as PNGs,
// and each composed output's (a layout) whole, beside the own pictures of the guests in it.
// A frame is sent only when the output shows a new one (so never faster than the guest flips),
// at most maxFps per connector, and to a client only after it acknowledged drawing the previous
// one and while its socket is not backed up: a slow browser gets fewer frames, never a backlog.
// Frames are encoded once for all clients, off the event loop.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../util/log.js';
import { bindListener, type Listen } from '../config/listen.js';
import type { PngEncoder } from '../frames/png-encoder.js';
import { connectorKey, type DaemonProbe } from '../probe.js';
import type { FrameRates } from '../status/frame-rate.js';
import { parseViewerInput } from '../../input/viewer-input.js';
import { hostAllowed, originAllowed } from './access.js';
import { encodeFrameMessage } from './frame-message.js';
import { VIEWER_PAGE } from './viewer-page.js';
import type { Size } from '../../util/geometry.js';
import type { Frame } from '../../drm/output.js';

export interface ViewerDeps {
  readonly probe: DaemonProbe;
  readonly rates: FrameRates;
  readonly encoder: PngEncoder;
  readonly log: Logger;
  /** Frames per second per connector at most (default 30). */
  readonly maxFps?: number;
  /** A client whose socket holds more than this is skipped until it drains (default 8 MiB). */
  readonly maxBufferedBytes?: number;
  /** The page may send input to the guest of a connector (--viewer-input). */
  readonly input?: boolean;
}

export interface ConnectorInfo {
  readonly kind: 'connector';
  readonly key: string;
  readonly uniqueId: string;
  readonly output: string;
  readonly state: string;
  readonly scanout: Size | null;
  readonly framesPerSecond: number | null;
}

/** A composed output (a layout): shown whole beside each of its guest connectors. */
export interface ComposedInfo {
  readonly kind: 'output';
  /** `output/NAME`: never a connector's key (those are numbers). */
  readonly key: string;
  readonly output: string;
  readonly layout: string;
  /** The layout's guest connectors there now, and how many it names. */
  readonly guests: readonly string[];
  readonly entries: number;
}

export type ViewInfo = ConnectorInfo | ComposedInfo;

/** The key a composed output's frames go by. */
export function outputViewKey(name: string): string {
  return `output/${name}`;
}

interface Client {
  readonly ws: WebSocket;
  /** Keys sent and not yet acknowledged. */
  readonly inflight: Set<string>;
  readonly lastSent: Map<string, number>;
}

interface Encoded {
  readonly sequence: number;
  /** undefined while encoding. */
  message: Buffer | undefined;
}

const MAX_CLIENTS = 32;

export class ViewerServer {
  private readonly clients = new Set<Client>();
  private readonly encoded = new Map<string, Encoded>();
  private ticker: NodeJS.Timeout | undefined;
  private lister: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private framesSent = 0;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    private readonly deps: ViewerDeps,
    readonly address: { host: string; port: number },
  ) {}

  static async listen(at: Listen, deps: ViewerDeps): Promise<ViewerServer> {
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
    const v = new ViewerServer(server, wss, deps, await bindListener(server, at, 'viewer'));
    server.on('request', (req, res) => {
      if (!hostAllowed(req.headers.host, v.address)) {
        res.writeHead(421, { 'content-type': 'text/plain' }).end('vdispld viewer: wrong Host\n');
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            'content-security-policy':
              "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'",
          })
          .end(VIEWER_PAGE);
      } else if (req.method === 'GET' && path === '/connectors.json') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(v.connectors()));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => v.upgrade(req, socket, head));
    return v;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Frame messages sent to clients so far. */
  get sent(): number {
    return this.framesSent;
  }

  /** Each guest connector, then each composed output (its layout). */
  connectors(): ViewInfo[] {
    const out: ViewInfo[] = [];
    for (const d of this.deps.probe.devices()) {
      for (const c of d.connectors) {
        const key = connectorKey(d.domid, d.devId, c.index);
        const fps = this.deps.rates.rate(key);
        out.push({
          kind: 'connector',
          key,
          uniqueId: c.uniqueId,
          output: c.output,
          state: d.phase,
          scanout: c.scanout ? { width: c.scanout.width, height: c.scanout.height } : null,
          framesPerSecond: fps === undefined ? null : Math.round(fps * 10) / 10,
        });
      }
    }
    for (const l of this.deps.probe.layouts?.() ?? [])
      out.push({
        kind: 'output',
        key: outputViewKey(l.output),
        output: l.output,
        layout: l.layout,
        guests: l.guests,
        entries: l.entries,
      });
    return out;
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopTimers();
      for (const c of this.clients) c.ws.terminate();
      this.clients.clear();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (code: number, why: string): void => {
      socket.end(`HTTP/1.1 ${code} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (this.closing) return refuse(503, 'Service Unavailable');
    if (path !== '/ws') return refuse(404, 'Not Found');
    if (!hostAllowed(req.headers.host, this.address)) return refuse(421, 'Misdirected Request');
    if (!originAllowed(req.headers.origin, req.headers.host)) return refuse(403, 'Forbidden');
    if (this.clients.size >= MAX_CLIENTS) return refuse(503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, inflight: new Set(), lastSent: new Map() };
    this.clients.add(client);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let m: unknown;
      try {
        m = JSON.parse(String(data));
      } catch {
        // The page sends only JSON; anything else is not ours to answer (and not worth a log line
        // per message from a client that may send many).
        return;
      }
      const msg = m as { type?: unknown; key?: unknown };
      if (msg.type === 'ack' && typeof msg.key === 'string') client.inflight.delete(msg.key);
      else if (msg.type === 'input' && this.deps.input) this.input(m);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stopTimers();
    });
    this.sendConnectors(client);
    this.startTimers();
  }

  /**
   * Input on a connector's canvas goes to the guest shown there, which gets focus (click to focus,
   * as a KVM viewer does): the vkbd with the connector's unique-id in the same guest.
   */
  private input(m: unknown): void {
    const router = this.deps.probe.input?.();
    const msg = parseViewerInput(m);
    if (!router || !msg) return;
    const [domid, devId, index] = msg.key.split('/').map(Number);
    const conn = this.deps.probe
      .devices()
      .find((d) => d.domid === domid && d.devId === devId)
      ?.connectors.find((c) => c.index === index);
    if (!conn) return;
    const target = router.targetFor(domid!, conn.uniqueId);
    if (!target) return;
    if (router.focus?.domid !== target.domid || router.focus.devId !== target.devId)
      router.focusOn(target.domid, target.devId);
    router.deliver(msg.events);
  }

  private startTimers(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.tick(), Math.max(1, Math.round(1000 / (this.deps.maxFps ?? 30))));
    this.lister = setInterval(() => {
      for (const c of this.clients) this.sendConnectors(c);
    }, 1000);
    this.ticker.unref();
    this.lister.unref();
    this.tick();
  }

  private stopTimers(): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.lister) clearInterval(this.lister);
    this.ticker = undefined;
    this.lister = undefined;
  }

  private sendConnectors(c: Client): void {
    if (c.ws.readyState === c.ws.OPEN)
      c.ws.send(JSON.stringify({ type: 'connectors', connectors: this.connectors(), input: this.deps.input === true }));
  }

  private ready(c: Client, key: string): boolean {
    return (
      c.ws.readyState === c.ws.OPEN &&
      !c.inflight.has(key) &&
      c.ws.bufferedAmount <= (this.deps.maxBufferedBytes ?? 8 << 20)
    );
  }

  private tick(): void {
    const live = new Set<string>();
    const probe = this.deps.probe;
    for (const d of probe.devices()) {
      for (const conn of d.connectors) {
        const key = connectorKey(d.domid, d.devId, conn.index);
        live.add(key);
        // A connector in a layout: its own picture (the composed one has a view of its own).
        this.offer(key, () => (conn.connectorFrame ? conn.connectorFrame() : probe.frame(conn.output)));
      }
    }
    for (const l of probe.layouts?.() ?? []) {
      const key = outputViewKey(l.output);
      live.add(key);
      this.offer(key, () => probe.frame(l.output));
    }
    for (const k of this.encoded.keys()) if (!live.has(k)) this.encoded.delete(k);
  }

  /** Sends the view `key`'s frame to the clients ready for it, encoding it once when it is new. */
  private offer(key: string, frameOf: () => Frame | undefined): void {
    const waiting = [...this.clients].filter((c) => this.ready(c, key));
    if (waiting.length === 0) return;
    const enc = this.encoded.get(key);
    if (enc && enc.message === undefined) return; // encoding now
    const frame = frameOf();
    if (!frame) return;
    if (enc && enc.sequence === frame.sequence) {
      this.deliver(key, enc);
      return;
    }
    const next: Encoded = { sequence: frame.sequence, message: undefined };
    this.encoded.set(key, next);
    this.deps.encoder.encode(frame, { deflateLevel: 1 }).then(
      (png) => {
        if (this.closing || this.encoded.get(key) !== next) return;
        next.message = encodeFrameMessage(
          { key, sequence: frame.sequence, width: frame.width, height: frame.height },
          png,
        );
        this.deliver(key, next);
      },
      (err: unknown) => {
        if (this.encoded.get(key) === next) this.encoded.delete(key);
        if (!this.closing) this.deps.log.warn({ err }, `viewer: cannot encode the frame of ${key}`);
      },
    );
  }

  private deliver(key: string, enc: Encoded): void {
    const msg = enc.message;
    if (!msg) return;
    for (const c of this.clients) {
      if (!this.ready(c, key) || c.lastSent.get(key) === enc.sequence) continue;
      c.inflight.add(key);
      c.lastSent.set(key, enc.sequence);
      this.framesSent++;
      c.ws.send(msg, { binary: true });
    }
  }
}
