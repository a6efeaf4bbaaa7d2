// A bench guest: a simulated domain whose kernel runs the simulator's xen-drm-front and whose
// userspace is a measuring program. It is the same driver code the simulated guests of the tests
// and the demo run, so vdispld and the C floor are measured against identical frontends; only
// what userspace does differs (nothing is drawn: a compositor's drawing is the guest's CPU, not
// the backend's). Configuration as JSON in argv[2]; commands and reports over IPC.
import { Op } from '../../src/displif/constants.js';
import { writeU64 } from '../../src/displif/bytes.js';
import { REQ } from '../../src/displif/wire-layout.js';
import { DomainKernel } from '../../src/sim/domain-kernel.js';
import { FrontendBus } from '../../src/sim/frontend/bus.js';
import type { DrmCard, Framebuffer, GemObject } from '../../src/sim/frontend/card.js';
import type { FrontDevice } from '../../src/sim/frontend/device.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import { XenStoreClient, unixSocketTransport } from '../../src/xenstore/index.js';
import type { GuestCommand, GuestConfig, GuestReport, RttPlan } from './protocol.js';

const FULL_HD = { width: 1920, height: 1080 };
const MAX_LATENCY_SAMPLES = 4096;

function send(r: GuestReport): void {
  if (process.connected) process.send!(r);
}

interface Card {
  readonly dev: FrontDevice;
  readonly card: DrmCard;
}

interface Surfaces {
  readonly objs: GemObject[];
  readonly fbs: Framebuffer[];
}

/** A uniform sample of at most `size` values of an unbounded stream (reservoir sampling). */
class Reservoir {
  readonly values: number[] = [];
  private seen = 0;

  constructor(private readonly size: number) {}

  add(v: number): void {
    this.seen++;
    if (this.values.length < this.size) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.size) this.values[j] = v;
    }
  }
}

/** Request round trips, by operation, while `recording`; everything else the driver reports is ignored. */
class RttRecorder {
  recording = false;
  errors: Record<string, number> = {};
  readonly us = new Map<number, number[]>();
  /** When set, PG_FLIP round trips go here instead (long runs keep a bounded sample). */
  flips: Reservoir | undefined;

  onReport(r: FrontendReport): void {
    if (!this.recording || r.kind !== 'request') return;
    if (r.status !== 0) {
      this.errors[r.status] = (this.errors[r.status] ?? 0) + 1;
      return;
    }
    if (this.flips && r.op === Op.PG_FLIP) {
      this.flips.add(r.ms * 1000);
      return;
    }
    let list = this.us.get(r.op);
    if (!list) this.us.set(r.op, (list = []));
    list.push(r.ms * 1000);
  }

  take(op: number): number[] {
    return this.us.get(op) ?? [];
  }
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as GuestConfig;
  const kernel = await DomainKernel.connect(cfg.dir, cfg.domid);
  const xs = await XenStoreClient.connect({ transport: unixSocketTransport(cfg.xenstoredPath), reconnect: false });
  const rtt = new RttRecorder();
  const cards: Card[] = [];
  const prepared = new Map<DrmCard, Surfaces[]>();

  const bus = new FrontendBus(xs, kernel, cfg.domid, {
    report: (r) => {
      rtt.onReport(r);
      if (r.kind === 'error' || r.kind === 'fatal' || r.kind === 'ring-violation')
        send({ kind: 'error', message: JSON.stringify(r) });
    },
    // Read per request by the driver: on only while round trips are being recorded.
    get verbose() {
      return rtt.recording;
    },
    cardUp(dev, card) {
      cards.push({ dev, card });
      send({ kind: 'ready', connectors: card.connectors.length });
    },
    cardDown(_dev, card) {
      const i = cards.findIndex((c) => c.card === card);
      if (i >= 0) cards.splice(i, 1);
      return Promise.resolve();
    },
  });

  let exiting = false;
  const exit = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await bus.close().catch(() => undefined);
    await xs.close().catch(() => undefined);
    kernel.close();
    process.exit(0);
  };
  kernel.hv.onClose(() => void exit());
  process.on('disconnect', () => void exit());

  process.on('message', (cmd: GuestCommand) => {
    void (async () => {
      switch (cmd.cmd) {
        case 'rtt':
          send(await runRtt(cards[0]!.card, cmd.plan, rtt));
          return;
        case 'prepare': {
          let connectors = 0;
          for (const c of cards) {
            const s = await prepare(c.card);
            prepared.set(c.card, s);
            connectors += s.length;
          }
          send({ kind: 'prepared', connectors });
          return;
        }
        case 'throughput':
          send(await runThroughput(cards, prepared, cmd.ms));
          return;
        case 'pipeline':
          send(await runPipeline(cards, prepared, cmd, rtt));
          return;
        case 'exit':
          await exit();
      }
    })().catch((err: unknown) =>
      send({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });

  await bus.start();
}

async function surface(card: DrmCard, width: number, height: number): Promise<{ obj: GemObject; fb: Framebuffer }> {
  const made = await card.dumbCreate(width, height, 32);
  if (!made.obj) throw new Error(`CREATE_DUMB ${width}x${height}: status ${made.status}`);
  const added = await card.addFb(made.obj, width, height, 'XRGB8888');
  if (!added.fb) throw new Error(`ADDFB2 ${width}x${height}: status ${added.status}`);
  return { obj: made.obj, fb: added.fb };
}

async function release(card: DrmCard, objs: readonly GemObject[], fbs: readonly Framebuffer[]): Promise<void> {
  for (const fb of fbs) await card.rmFb(fb);
  for (const o of objs) await card.gemClose(o);
}

async function runRtt(card: DrmCard, plan: RttPlan, rec: RttRecorder): Promise<GuestReport> {
  const { width, height } = plan;
  // Each phase first runs untimed for a while: the JIT and the caches settle on both sides.
  const warm = (n: number): number => Math.min(50, Math.ceil(n / 5));

  const dbufCreate = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const r = await card.dumbCreate(width, height, 32);
      if (r.obj) await card.gemClose(r.obj);
    }
  };
  await dbufCreate(warm(plan.dbufCreate));
  rec.recording = true;
  await dbufCreate(plan.dbufCreate);
  rec.recording = false;

  const base = await card.dumbCreate(width, height, 32);
  if (!base.obj) throw new Error(`CREATE_DUMB: status ${base.status}`);
  const attach = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const r = await card.addFb(base.obj!, width, height, 'XRGB8888');
      if (r.fb) await card.rmFb(r.fb);
    }
  };
  await attach(warm(plan.fbAttach));
  rec.recording = true;
  await attach(plan.fbAttach);
  rec.recording = false;
  await card.gemClose(base.obj);

  const a = await surface(card, width, height);
  const b = await surface(card, width, height);
  const enabled = await card.enable(0, a.fb);
  if (enabled !== 0) throw new Error(`SET_CONFIG: status ${enabled}`);
  const flips = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await card.pageFlip(0, i % 2 ? a.fb : b.fb);
  };
  await flips(warm(plan.pgFlip));
  rec.recording = true;
  await flips(plan.pgFlip);
  rec.recording = false;
  await card.disable(0);
  await release(card, [a.obj, b.obj], [a.fb, b.fb]);

  const out = {
    kind: 'rtt' as const,
    us: { dbufCreate: rec.take(Op.DBUF_CREATE), fbAttach: rec.take(Op.FB_ATTACH), pgFlip: rec.take(Op.PG_FLIP) },
    errors: rec.errors,
  };
  rec.us.clear();
  rec.errors = {};
  return out;
}

/** Per connector: two full-HD framebuffers (or the connector's size), the pipe enabled with the first. */
async function prepare(card: DrmCard): Promise<Surfaces[]> {
  const out: Surfaces[] = [];
  for (let conn = 0; conn < card.connectors.length; conn++) {
    const { width, height } = card.connectors[conn] ?? FULL_HD;
    const a = await surface(card, width, height);
    const b = await surface(card, width, height);
    const status = await card.enable(conn, a.fb);
    if (status !== 0) throw new Error(`SET_CONFIG on connector ${conn}: status ${status}`);
    out.push({ objs: [a.obj, b.obj], fbs: [a.fb, b.fb] });
  }
  return out;
}

async function runThroughput(
  cards: readonly Card[],
  prepared: Map<DrmCard, Surfaces[]>,
  ms: number,
): Promise<GuestReport> {
  let requests = 0;
  const errors: Record<string, number> = {};
  const started = performance.now();
  const end = started + ms;
  const loops: Promise<void>[] = [];
  for (const { dev, card } of cards) {
    const surfaces = prepared.get(card) ?? [];
    surfaces.forEach((s, conn) => {
      const ctrl = dev.pairs?.[conn]?.ctrl;
      if (!ctrl) return;
      loops.push(
        (async () => {
          // Back-to-back PG_FLIPs on the connector's own ring, each waited for like the driver
          // waits: the request path at full speed (the events follow and are consumed as usual).
          for (let i = 0; performance.now() < end; i++) {
            const cookie = s.fbs[i % 2]!.cookie;
            const status = await ctrl.request(Op.PG_FLIP, (slot) => writeU64(slot, REQ.pgFlip.fbCookie, cookie));
            requests++;
            if (status !== 0) errors[status] = (errors[status] ?? 0) + 1;
          }
        })(),
      );
    });
  }
  await Promise.all(loops);
  return { kind: 'throughput', requests, errors, elapsedMs: performance.now() - started };
}

async function runPipeline(
  cards: readonly Card[],
  prepared: Map<DrmCard, Surfaces[]>,
  cmd: Extract<GuestCommand, { cmd: 'pipeline' }>,
  rec: RttRecorder,
): Promise<GuestReport> {
  const nWindows = Math.max(1, Math.ceil(cmd.ms / cmd.windowMs));
  const windows: { flips: number; late: number; failed: number }[] = Array.from({ length: nWindows }, () => ({
    flips: 0,
    late: 0,
    failed: 0,
  }));
  const latency = new Reservoir(MAX_LATENCY_SAMPLES);
  rec.flips = new Reservoir(MAX_LATENCY_SAMPLES);
  rec.errors = {};
  rec.recording = true;
  // performance.now() and Date.now() differ by a constant here: windows are on the shared wall clock.
  const offset = Date.now() - performance.now();
  const windowOf = (t: number): { flips: number; late: number; failed: number } | undefined =>
    windows[Math.floor((t + offset - cmd.startEpochMs) / cmd.windowMs)];
  const end = cmd.startEpochMs - offset + cmd.ms;
  const lateGapMs = 1.5 * cmd.framePeriodMs;
  const loops: Promise<void>[] = [];
  for (const { card } of cards) {
    const surfaces = prepared.get(card) ?? [];
    surfaces.forEach((s, conn) => {
      loops.push(
        (async () => {
          let lastEvent: number | undefined;
          for (let frame = 1; ; frame++) {
            const sent = performance.now();
            if (sent >= end) return;
            const r = await card.pageFlip(conn, s.fbs[frame % 2]!);
            const now = performance.now();
            const w = windowOf(now);
            if (r.status !== 0 || r.outcome !== 'event') {
              if (w) w.failed++;
              lastEvent = undefined;
              continue;
            }
            if (!w) continue; // before the first window (or after the last): not counted
            w.flips++;
            // A compositor flips again as soon as the event comes, so on-time events are one frame
            // apart; a gap of more than 1.5 frames means a vblank went by without this flip.
            if (lastEvent !== undefined && now - lastEvent > lateGapMs) w.late++;
            lastEvent = now;
            latency.add((now - sent) * 1000);
          }
        })(),
      );
    });
  }
  await Promise.all(loops);
  rec.recording = false;
  const rttUs = rec.flips.values;
  rec.flips = undefined;
  return { kind: 'pipeline', windows, latencyUs: latency.values, rttUs, errors: rec.errors };
}

main().catch((err: unknown) => {
  send({ kind: 'error', message: `bench guest failed to start: ${err instanceof Error ? err.message : String(err)}` });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 50).unref();
});
