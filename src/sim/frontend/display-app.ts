// Guest userspace showing an animation, as a compositor on a KMS card does: two buffers per
// connector, the pipe enabled with the first, then page flips each waited for with its vblank
// event. Every frame is drawn with the checkable pattern. On stop it disables the pipes and
// releases its framebuffers and buffers, which is what reaches the backend when a guest's
// display server exits.
import { formatByName, type PixelFormat } from '../../displif/formats.js';
import type { DrmCard, Framebuffer, GemObject } from './card.js';
import { runqueueWaitMs } from '../schedstat.js';
import { drawFrame } from './pattern.js';
import { drawPointer } from './pointer.js';
import type { DisplayBehaviour, FrontendReport } from './protocol.js';

interface Surface {
  readonly obj: GemObject;
  readonly fb: Framebuffer;
}

export class DisplayApp {
  private stopping = false;
  private loops: Promise<number>[] = [];

  constructor(
    private readonly card: DrmCard,
    private readonly devid: number,
    private readonly domid: number,
    private readonly behaviour: DisplayBehaviour,
    private readonly report: (r: FrontendReport) => void,
    private readonly verbose: boolean,
    /** Where the guest's pointer is on a connector (its vkbd with the same unique-id), if anywhere. */
    private readonly pointer: (conn: number) => { x: number; y: number } | undefined = () => undefined,
  ) {}

  start(): void {
    this.loops = this.card.connectors.map((_, conn) => this.run(conn));
    void Promise.all(this.loops).then((frames) => this.report({ kind: 'stopped', devid: this.devid, frames }));
  }

  /** Asks every connector's loop to finish and resolves when they have cleaned up. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private formatFor(conn: number): PixelFormat {
    const names = this.behaviour.formats ?? [];
    const name = names[Math.min(conn, names.length - 1)] ?? 'XRGB8888';
    const f = formatByName(name);
    if (!f) throw new RangeError(`unknown pixel format ${name}`);
    return f;
  }

  /** One connector: set up, flip until told to stop, tear down. Resolves to the frames shown. */
  private async run(conn: number): Promise<number> {
    const { width, height } = this.card.connectors[conn]!;
    const format = this.formatFor(conn);
    const surfaces: Surface[] = [];
    let shown = 0;
    try {
      for (let i = 0; i < 2 && !this.stopping; i++) {
        const s = await this.makeSurface(conn, width, height, format);
        if (!s) return 0;
        surfaces.push(s);
      }
      if (surfaces.length < 2) return 0;
      this.draw(surfaces[0]!, conn, 0);
      const enabled = await this.card.enable(conn, surfaces[0]!.fb);
      if (enabled !== 0) this.error(`enabling connector ${conn}: status ${enabled}`);
      const frames = this.behaviour.frames;
      const minMs = this.behaviour.maxFps ? 1000 / this.behaviour.maxFps : 0;
      let frame = 0;
      let lastReleased: number | undefined;
      let lastWait = runqueueWaitMs();
      while (!this.stopping && this.card.isPlugged && (frames === undefined || frame < frames)) {
        frame++;
        const started = performance.now();
        const s = surfaces[frame % 2]!;
        this.draw(s, conn, frame);
        const r = await this.card.pageFlip(conn, s.fb);
        const released = performance.now();
        const intervalMs = lastReleased === undefined ? undefined : released - lastReleased;
        lastReleased = released;
        const wait = runqueueWaitMs();
        const waitMs =
          intervalMs !== undefined && wait !== undefined && lastWait !== undefined ? wait - lastWait : undefined;
        lastWait = wait;
        if (r.status === 0) shown = frame;
        if (this.verbose || r.status !== 0 || r.outcome !== 'event') {
          this.report({
            kind: 'frame',
            devid: this.devid,
            conn,
            frame,
            flip: r.outcome,
            ms: r.ms,
            status: r.status,
            at: Date.now(),
            intervalMs,
            waitMs,
          });
        }
        if (r.status !== 0 && this.card.isPlugged) await sleep(50); // a compositor backs off, then retries
        const spent = performance.now() - started;
        if (minMs > spent) await sleep(minMs - spent);
      }
      if (this.card.isPlugged && enabled === 0) await this.card.disable(conn);
      return shown;
    } finally {
      for (const s of surfaces) await this.card.rmFb(s.fb);
      for (const s of surfaces) await this.card.gemClose(s.obj);
    }
  }

  private async makeSurface(
    conn: number,
    width: number,
    height: number,
    format: PixelFormat,
  ): Promise<Surface | undefined> {
    const created = this.behaviour.prime
      ? await this.card.primeImport(width * format.cpp * height)
      : await this.card.dumbCreate(width, height, format.bpp);
    if (!created.obj) {
      this.error(
        `connector ${conn}: ${this.behaviour.prime ? 'PRIME import' : 'CREATE_DUMB'} failed with status ${created.status}`,
      );
      return undefined;
    }
    const added = await this.card.addFb(created.obj, width, height, format.name);
    if (!added.fb) {
      this.error(`connector ${conn}: ADDFB2 failed with status ${added.status}`);
      await this.card.gemClose(created.obj);
      return undefined;
    }
    return { obj: created.obj, fb: added.fb };
  }

  private draw(s: Surface, conn: number, frame: number): void {
    const bytes = s.obj.shbuf.bytes;
    if (!bytes) return;
    const pitch = s.obj.pitch || s.fb.width * s.fb.format.cpp;
    drawFrame(
      { bytes, offset: s.obj.offset, pitch, width: s.fb.width, height: s.fb.height, format: s.fb.format },
      { frame, domid: this.domid, connector: conn },
    );
    const p = this.pointer(conn);
    if (p)
      drawPointer(
        { bytes, offset: s.obj.offset, pitch, width: s.fb.width, height: s.fb.height, format: s.fb.format },
        p.x,
        p.y,
      );
  }

  private error(message: string): void {
    this.report({ kind: 'error', message: `device ${this.devid}: ${message}` });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
