// Prometheus metrics (prom-client) on a private registry. Two request-path hooks are pushed by the
// backend (request answered, flip event sent); everything else is read from the daemon's probe at
// scrape time, so the request path pays one array increment and one histogram observation.
// prom-client is loaded when the registry is first needed (build(), or the first text()): loading it
// is a good part of start-up, and a daemon whose metrics listener is off never reads it.
import { BUDGET_KINDS, type BudgetKind, type BudgetReport } from '../../backend/dom0-budget.js';
import type { Histogram, Registry } from 'prom-client';
import { BUFFER_OWNERS, BUFFER_PATHS, type ConnectorCounters, type DaemonProbe, type InputProbe } from '../probe.js';
import { RequestCounts } from './request-counts.js';

/** What the backend tells metrics as it happens (structural: the backend declares its own). */
export interface BackendObserver {
  /** A request was answered with `status` (0 or a negative Xen errno). */
  request(op: number, status: number): void;
  /** A flip's EVT_PG_FLIP went out `latencyNs` after its PG_FLIP was queued. */
  flipDone(latencyNs: number, shown: boolean): void;
}

export const METRIC_PREFIX = 'vdispld_';
/** Flip latency buckets: a vblank at 60 Hz is 16.7 ms; the frontend gives up at 3 s. */
const FLIP_BUCKETS = [0.001, 0.002, 0.004, 0.008, 0.0167, 0.025, 0.0334, 0.05, 0.1, 0.25, 0.5, 1, 3];
const PHASES = ['idle', 'initwait', 'connected', 'closed-retry', 'failed', 'removed'];
const BUDGET_KIND_LABELS: Record<BudgetKind, string> = {
  mappedPages: 'mapped_pages',
  allocatedPages: 'allocated_pages',
  fds: 'fds',
};

export interface MetricsOptions {
  /** Node process metrics and event-loop lag (prom-client's default collectors); default true. */
  readonly processMetrics?: boolean;
  /** Log lines dropped by the guest rate limit, if the sink is ours. */
  readonly logSuppressed?: () => number;
}

type InputField = 'written' | 'dropped' | 'coalesced';

/** A vkbd's event counts across its connections: each connection's counts start at 0. */
interface InputTally {
  connection: number;
  seen: Record<InputField, number>;
  total: Record<InputField, number>;
}

interface FrameTally {
  stats: ConnectorCounters;
  seenShown: number;
  seenDropped: number;
  shown: number;
  dropped: number;
}

/** Flip latencies kept for the histogram until the registry exists (start-up, or never: metrics off). */
const EARLY_FLIPS = 4096;

export class Metrics implements BackendObserver {
  private registry: Registry | undefined;
  private building: Promise<Registry> | undefined;
  private readonly requests = new RequestCounts();
  private flipLatency: Histogram | undefined;
  private early: number[] = [];
  private readonly frames = new Map<string, FrameTally>();
  private readonly input = new Map<string, InputTally>();

  constructor(
    private readonly probe: DaemonProbe,
    private readonly opts: MetricsOptions = {},
  ) {}

  /** Loads prom-client and makes the registry, once; the metrics listener calls it before it listens. */
  build(): Promise<Registry> {
    this.building ??= import('prom-client').then((prom) => this.make(prom));
    return this.building;
  }

  private make(prom: typeof import('prom-client')): Registry {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = prom;
    const probe = this.probe;
    const opts = this.opts;
    const registry = new Registry();
    const registers = [registry];
    // collect() runs with the metric as `this`; the sources it reads are captured here.
    const requests = this.requests;
    const frames = this.frames;
    const tally = (): void => this.tallyFrames();
    new Counter({
      name: `${METRIC_PREFIX}requests_total`,
      help: 'displif requests answered, by operation and result (ok or the errno name)',
      labelNames: ['op', 'result'],
      registers,
      collect() {
        this.reset();
        for (const e of requests.entries()) this.inc({ op: e.op, result: e.result }, e.n);
      },
    });
    const flipLatency = new Histogram({
      name: `${METRIC_PREFIX}flip_latency_seconds`,
      help: 'time from a PG_FLIP request being queued to its EVT_PG_FLIP event',
      buckets: FLIP_BUCKETS,
      registers,
    });
    for (const s of this.early) flipLatency.observe(s);
    this.early = [];
    this.flipLatency = flipLatency;
    new Counter({
      name: `${METRIC_PREFIX}frames_shown_total`,
      help: 'guest flips shown on the output, per connector',
      labelNames: ['domid', 'dev', 'connector'],
      registers,
      collect() {
        tally();
        this.reset();
        for (const [k, t] of frames) this.inc(labelsOf(k), t.shown);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}frames_dropped_total`,
      help: 'guest flips not shown (replaced before the vblank, output off or too late), per connector',
      labelNames: ['domid', 'dev', 'connector'],
      registers,
      collect() {
        tally();
        this.reset();
        for (const [k, t] of frames) this.inc(labelsOf(k), t.dropped);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}grant_mappings`,
      help: 'grant mappings held (guest buffers, rings and event pages)',
      registers,
      collect() {
        this.set(probe.resources().grantMappings);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}mapped_pages`,
      help: 'guest pages mapped through those grant mappings',
      registers,
      collect() {
        this.set(probe.resources().mappedPages);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}shown_framebuffers`,
      help: "guest framebuffers on screen now, by path: dma-buf (scanned out as they are), copied (into the card's buffer), mapped (headless: read in place); and by buffer: guest (its pages) or be-alloc (dom0's pages granted to it)",
      labelNames: ['path', 'buffer'],
      registers,
      collect() {
        const n = probe.bufferPaths();
        for (const buffer of BUFFER_OWNERS)
          for (const path of BUFFER_PATHS) this.set({ path, buffer }, n[buffer][path]);
      },
    });
    // The dom0-wide budget (dom0-budget.ts), by kind: mapped_pages, allocated_pages, fds.
    const budget = (): BudgetReport | undefined => probe.budget();
    const kindLabel = (k: BudgetKind): string => BUDGET_KIND_LABELS[k];
    new Gauge({
      name: `${METRIC_PREFIX}dom0_budget_limit`,
      help: 'dom0-wide budget, by kind: dom0 maptrack entries of grant mappings (two per page on an x86 PV dom0), dom0 pages granted to guests (be-alloc), dma-buf fds',
      labelNames: ['kind'],
      registers,
      collect() {
        const b = budget();
        if (b) for (const k of BUDGET_KINDS) this.set({ kind: kindLabel(k) }, b.limits[k]);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}dom0_budget_used`,
      help: 'dom0-wide budget held by all guests together, by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const b = budget();
        if (b) for (const k of BUDGET_KINDS) this.set({ kind: kindLabel(k) }, b.used[k]);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}dom0_budget_share`,
      help: 'what one guest may hold now, by kind: limit / (guests holding it + 1)',
      labelNames: ['kind'],
      registers,
      collect() {
        const b = budget();
        if (b) for (const k of BUDGET_KINDS) this.set({ kind: kindLabel(k) }, b.share[k]);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}dom0_budget_guest_used`,
      help: 'dom0-wide budget held by one guest, by kind',
      labelNames: ['domid', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const g of budget()?.guests ?? [])
          for (const k of BUDGET_KINDS) this.set({ domid: String(g.domid), kind: kindLabel(k) }, g[k]);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}dom0_budget_refused_total`,
      help: 'requests refused by the dom0-wide budget (-ENOMEM over the guest share, -EAGAIN over the limit), by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const b = budget();
        this.reset();
        if (b) for (const k of BUDGET_KINDS) this.inc({ kind: kindLabel(k) }, b.refused[k]);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}buffers`,
      help: 'guest display buffers held',
      registers,
      collect() {
        this.set(probe.resources().buffers);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}copy_fallbacks_total`,
      help: 'guest framebuffers copied instead of scanned out as a dma-buf, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(probe.fallbacks())) this.inc({ reason: reason.slice(0, 120) }, n);
      },
    });
    // Only where some output has a copy path (KMS): a headless daemon copies nothing and says so by absence.
    if (probe.bytesCopied() !== undefined) {
      new Counter({
        name: `${METRIC_PREFIX}copied_bytes_total`,
        help: 'guest bytes the copy path read into scanout buffers (rows x row bytes), per output',
        labelNames: ['output'],
        registers,
        collect() {
          this.reset();
          for (const [output, n] of Object.entries(probe.bytesCopied() ?? {})) this.inc({ output }, n);
        },
      });
    }
    new Counter({
      name: `${METRIC_PREFIX}composed_bytes_total`,
      help: 'bytes the CPU wrote composing several guests on one output (a layout), per output',
      labelNames: ['output'],
      registers,
      collect() {
        this.reset();
        for (const l of probe.layouts?.() ?? []) this.inc({ output: l.output }, l.bytesComposed);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}composed_frames_total`,
      help: 'composed frames an output with a layout showed, per output',
      labelNames: ['output'],
      registers,
      collect() {
        this.reset();
        for (const l of probe.layouts?.() ?? []) this.inc({ output: l.output }, l.framesShown);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}composed_planes`,
      help: 'planes an output with a layout uses (1: every guest composed by the CPU into the primary plane)',
      labelNames: ['output'],
      registers,
      collect() {
        this.reset();
        for (const l of probe.layouts?.() ?? []) this.set({ output: l.output }, l.planes);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}composed_guests`,
      help: "a layout's guests by where they are shown: on an overlay plane of their own (plane) or composed by the CPU (cpu), per output",
      labelNames: ['output', 'on'],
      registers,
      collect() {
        this.reset();
        for (const l of probe.layouts?.() ?? []) {
          const onPlane = l.placements.filter((p) => p.plane).length;
          this.set({ output: l.output, on: 'plane' }, onPlane);
          this.set({ output: l.output, on: 'cpu' }, l.placements.length - onPlane);
        }
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}composed_plane_refusals_total`,
      help: 'frames of a layout whose overlay planes the display refused (test-only commit), composed by the CPU instead, per output',
      labelNames: ['output'],
      registers,
      collect() {
        this.reset();
        for (const l of probe.layouts?.() ?? []) this.inc({ output: l.output }, l.planeRefusals);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}layout_refused`,
      help: 'outputs whose layout is refused now (1), by why: unparsable, conflict, unfit (no mode holds it), output-refused',
      labelNames: ['output', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const r of probe.layoutRefusals?.()?.now ?? []) this.set({ output: r.output, reason: r.reason }, 1);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}layout_refusals_total`,
      help: 'layout values refused since start, by why (each said once in the log)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(probe.layoutRefusals?.()?.total ?? {})) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}guest_devices`,
      help: 'vdispl devices (one per guest display device) by backend state',
      labelNames: ['state'],
      registers,
      collect() {
        const n = new Map<string, number>(PHASES.map((p) => [p, 0]));
        for (const d of probe.devices()) n.set(d.phase, (n.get(d.phase) ?? 0) + 1);
        for (const [state, v] of n) this.set({ state }, v);
      },
    });
    const input = (): InputProbe | undefined => probe.inputStatus?.();
    const inputTally = (): void => this.tallyInput();
    const inputTallies = this.input;
    new Gauge({
      name: `${METRIC_PREFIX}vkbd_devices`,
      help: 'vkbd devices (para-virtual keyboard, pointer and touch) by backend state',
      labelNames: ['state'],
      registers,
      collect() {
        const n = new Map<string, number>(PHASES.map((p) => [p, 0]));
        for (const d of input()?.devices ?? []) n.set(d.phase, (n.get(d.phase) ?? 0) + 1);
        for (const [state, v] of n) this.set({ state }, v);
      },
    });
    for (const [field, help] of [
      ['written', 'input events written to the guest vkbd ring, per device'],
      ['dropped', "input events dropped because the guest's vkbd queue was full, per device"],
      ['coalesced', "pointer motion merged into a queued event while the guest's vkbd was not consuming, per device"],
    ] as const) {
      new Counter({
        name: `${METRIC_PREFIX}input_events_${field}_total`,
        help,
        labelNames: ['domid', 'dev'],
        registers,
        collect() {
          inputTally();
          this.reset();
          for (const [k, t] of inputTallies) {
            const [domid, dev] = k.split('/') as [string, string];
            this.inc({ domid, dev }, t.total[field]);
          }
        },
      });
    }
    new Counter({
      name: `${METRIC_PREFIX}input_events_unfocused_total`,
      help: "events from dom0's input devices while no guest had focus (delivered nowhere)",
      registers,
      collect() {
        this.reset();
        this.inc(input()?.router.unfocused ?? 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}input_focus`,
      help: 'the vkbd device with input focus (1), per connected device',
      labelNames: ['domid', 'dev'],
      registers,
      collect() {
        this.reset();
        for (const t of input()?.targets ?? [])
          this.set({ domid: String(t.domid), dev: String(t.devId) }, t.focused ? 1 : 0);
      },
    });
    if (opts.logSuppressed) {
      const get = opts.logSuppressed;
      new Counter({
        name: `${METRIC_PREFIX}log_lines_suppressed_total`,
        help: 'log lines of noisy guests dropped by the rate limit',
        registers,
        collect() {
          this.reset();
          this.inc(get());
        },
      });
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
    this.registry = registry;
    return registry;
  }

  request(op: number, status: number): void {
    this.requests.add(op, status);
  }

  flipDone(latencyNs: number, _shown: boolean): void {
    if (this.flipLatency) this.flipLatency.observe(latencyNs / 1e9);
    else if (this.early.length < EARLY_FLIPS) this.early.push(latencyNs / 1e9);
  }

  /** Valid once the registry is built (text() has resolved). */
  get contentType(): string {
    return this.registry?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  }

  /** The exposition text. */
  async text(): Promise<string> {
    return (await this.build()).metrics();
  }

  /**
   * Per-connector frame counts that survive reconnects (idempotent within a scrape): the backend's counters start again with
   * each connection (a new stats object), so the totals add what each object gained since seen.
   */
  private tallyFrames(): void {
    const present = new Set<string>();
    for (const d of this.probe.devices()) {
      for (const c of d.connectors) {
        const key = `${d.domid}/${d.devId}/${c.index}`;
        present.add(key);
        let t = this.frames.get(key);
        if (!t) {
          t = { stats: c.stats, seenShown: 0, seenDropped: 0, shown: 0, dropped: 0 };
          this.frames.set(key, t);
        }
        if (t.stats !== c.stats) {
          t.stats = c.stats;
          t.seenShown = 0;
          t.seenDropped = 0;
        }
        t.shown += Math.max(0, c.stats.flipsShown - t.seenShown);
        t.dropped += Math.max(0, c.stats.flipsDropped - t.seenDropped);
        t.seenShown = c.stats.flipsShown;
        t.seenDropped = c.stats.flipsDropped;
      }
    }
    // A guest that is gone takes its series with it (domids are not reused for long).
    for (const k of this.frames.keys()) if (!present.has(k)) this.frames.delete(k);
  }

  private tallyInput(): void {
    tallyInputInto(this.input, this.probe.inputStatus?.());
  }
}

/** Adds what each connected vkbd's counters gained since the last scrape; a device that is gone takes its series. */
function tallyInputInto(tallies: Map<string, InputTally>, p: InputProbe | undefined): void {
  const present = new Set((p?.devices ?? []).map((d) => `${d.domid}/${d.devId}`));
  for (const t of p?.targets ?? []) {
    const k = `${t.domid}/${t.devId}`;
    present.add(k);
    let y = tallies.get(k);
    if (!y) {
      y = {
        connection: t.connection,
        seen: { written: 0, dropped: 0, coalesced: 0 },
        total: { written: 0, dropped: 0, coalesced: 0 },
      };
      tallies.set(k, y);
    }
    if (y.connection !== t.connection) {
      y.connection = t.connection;
      y.seen = { written: 0, dropped: 0, coalesced: 0 };
    }
    for (const f of ['written', 'dropped', 'coalesced'] as const) {
      y.total[f] += Math.max(0, t.events[f] - y.seen[f]);
      y.seen[f] = t.events[f];
    }
  }
  for (const k of tallies.keys()) if (!present.has(k)) tallies.delete(k);
}

function labelsOf(key: string): { domid: string; dev: string; connector: string } {
  const [domid, dev, connector] = key.split('/') as [string, string, string];
  return { domid, dev, connector };
}
