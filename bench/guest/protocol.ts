// What passes between the benchmark and a bench guest (bench/guest/main.ts) over IPC. A bench
// guest is a simulated domain running the simulator's xen-drm-front (src/sim/frontend) with a
// measuring program instead of a display: it times each request where the driver does, from the
// push to the response, and sends back samples and counts only, never one message per request,
// so the measurement itself stays off the hot path.

export interface GuestConfig {
  readonly dir: string;
  readonly domid: number;
  /** The domain's own xenstored socket. */
  readonly xenstoredPath: string;
}

/** Request round trips on connector 0 of the first card, one request in flight. */
export interface RttPlan {
  readonly dbufCreate: number;
  readonly fbAttach: number;
  readonly pgFlip: number;
  /** Geometry of the buffers (DBUF_CREATE of width x height XRGB8888). */
  readonly width: number;
  readonly height: number;
}

export type GuestCommand =
  | { readonly cmd: 'rtt'; readonly plan: RttPlan }
  /** Two framebuffers per connector, each connector enabled with the first. */
  | { readonly cmd: 'prepare' }
  /** Every connector sends PG_FLIP after PG_FLIP (one in flight per ring) for `ms`. */
  | { readonly cmd: 'throughput'; readonly ms: number }
  /**
   * Every connector flips as a compositor does (the next flip as soon as the last one's event
   * came) for `ms`, counted in windows of `windowMs` that start at `startEpochMs` (Date.now()).
   */
  | {
      readonly cmd: 'pipeline';
      readonly ms: number;
      readonly windowMs: number;
      readonly startEpochMs: number;
      readonly framePeriodMs: number;
    }
  | { readonly cmd: 'exit' };

export interface PipelineWindow {
  readonly flips: number;
  /** Events that came more than one frame after they should have: a vblank went by without them. */
  readonly late: number;
  /** Flips whose event never came (driver's 3100 ms timeout) or that failed. */
  readonly failed: number;
}

/** Requests answered with an error (or timed out: -110), by status. */
export type ErrorCounts = Readonly<Record<string, number>>;

export type GuestReport =
  | { readonly kind: 'ready'; readonly connectors: number }
  | {
      readonly kind: 'rtt';
      readonly us: { readonly dbufCreate: number[]; readonly fbAttach: number[]; readonly pgFlip: number[] };
      readonly errors: ErrorCounts;
    }
  | { readonly kind: 'prepared'; readonly connectors: number }
  | { readonly kind: 'throughput'; readonly requests: number; readonly errors: ErrorCounts; readonly elapsedMs: number }
  | {
      readonly kind: 'pipeline';
      readonly windows: PipelineWindow[];
      /** Flip latency (PG_FLIP pushed -> EVT_PG_FLIP seen) in µs, a sample of up to 4096. */
      readonly latencyUs: number[];
      /** PG_FLIP round trip (pushed -> response) in µs, a sample of up to 4096. */
      readonly rttUs: number[];
      readonly errors: ErrorCounts;
    }
  | { readonly kind: 'error'; readonly message: string };
