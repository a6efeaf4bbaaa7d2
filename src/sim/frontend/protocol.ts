// What passes between a simulated frontend process and its parent (SimHost) over the IPC
// channel: the frontend's configuration, commands, and reports of what the guest sees.
// Serialised with the 'advanced' IPC serialisation, so cookies travel as bigint.
import type { DecodedKbdEvent } from '../../kbdif/events.js';

export interface FrontendConfig {
  /** The simulated host's directory (hypervisor sockets, memory files). */
  readonly dir: string;
  readonly domid: number;
  /** The domain's own xenstored socket. */
  readonly xenstoredPath: string;
  readonly behaviour: Behaviour;
  /** Report every request and flip (default true); false reports only state, errors and summaries. */
  readonly verbose?: boolean;
  /** Fault injection: the guest kernel dies (SIGKILL) at this step. */
  readonly crash?: CrashPlan;
}

/**
 * Steps of the XenBus handshake and of a request at which a guest can be made to die: after it
 * went Initialising; with its rings allocated but not published; published but not Initialised;
 * Initialised; Connected; a request pushed but not answered; its response read; an event read.
 */
export type CrashStep =
  | 'initialising'
  | 'rings-allocated'
  | 'rings-published'
  | 'initialised'
  | 'connected'
  | 'request-pushed'
  | 'response-received'
  | 'event-received';

export interface CrashPlan {
  readonly step: CrashStep;
  /** Only requests of this operation count (request steps). */
  readonly op?: number;
  /** Die at the nth time the step is reached (default 1). */
  readonly nth?: number;
}

export type Behaviour =
  /** A compositor: two buffers per connector, flips as fast as the backend completes them. */
  | DisplayBehaviour
  /** The driver only: the card comes up, nothing is drawn until the parent sends a script. */
  | { readonly kind: 'idle' }
  | HostileBehaviour;

export interface DisplayBehaviour {
  readonly kind: 'display';
  /** Pixel format per connector (DRM name, e.g. 'XRGB8888'); the last one repeats. */
  readonly formats?: readonly string[];
  /** Stop after this many flips per connector (default: run until told to stop). */
  readonly frames?: number;
  /** Buffers arrive as PRIME imports (DBUF_CREATE with zero geometry) instead of dumb buffers. */
  readonly prime?: boolean;
  /** Flip no faster than this (default: as fast as flip events come). */
  readonly maxFps?: number;
}

export interface HostileBehaviour {
  readonly kind: 'hostile';
  readonly seed: number;
  /** Operations to perform before reporting a summary (default 200). */
  readonly operations?: number;
  /** Restrict to these kinds of misbehaviour (default: all). */
  readonly attacks?: readonly HostileAttack[];
  /** Also report a (non-final) summary every this many operations, for long campaigns. */
  readonly progressEvery?: number;
}

export type HostileAttack =
  | 'bad-cookies'
  | 'lying-sizes'
  | 'directory-loops'
  | 'ring-corruption'
  | 'revoked-grants'
  | 'event-storm'
  | 'random-bytes'
  | 'unknown-ops'
  | 'event-page'
  /** Up to 32 hostile requests pushed at once (every op and field at its limits), all answers checked. */
  | 'request-burst'
  /** Buffers and framebuffers made until the backend's quotas refuse, then released. */
  | 'quota-exhaust'
  /** REQ_ALLOC with a read-only, too short or foreign directory, and with PRIME geometry. */
  | 'be-alloc-abuse';

/** One step of a script: each DRM-level step is exactly one displif request. */
export type ScriptStep =
  | {
      readonly op: 'dumb-create';
      readonly name: string;
      readonly width: number;
      readonly height: number;
      readonly bpp: number;
      readonly cookie?: bigint;
    }
  | {
      readonly op: 'prime-import';
      readonly name: string;
      readonly size: number;
      readonly offset?: number;
      readonly cookie?: bigint;
    }
  | {
      readonly op: 'add-fb';
      readonly name: string;
      readonly buffer: string;
      readonly width: number;
      readonly height: number;
      readonly format: string;
      readonly cookie?: bigint;
    }
  | { readonly op: 'rm-fb'; readonly fb: string }
  | { readonly op: 'gem-close'; readonly buffer: string }
  | { readonly op: 'enable'; readonly conn: number; readonly fb: string; readonly x?: number; readonly y?: number }
  | { readonly op: 'disable'; readonly conn: number }
  | { readonly op: 'flip'; readonly conn: number; readonly fb: string }
  /** Draws frame `frame` of the pattern into a buffer (no request). */
  | {
      readonly op: 'draw';
      readonly buffer: string;
      readonly frame: number;
      readonly format: string;
      readonly width: number;
      readonly height: number;
      readonly connector?: number;
    }
  /** Sends 64 arbitrary bytes as a request on a connector's ring and waits like the driver would. */
  | { readonly op: 'raw'; readonly conn: number; readonly bytes: readonly number[] }
  | { readonly op: 'sleep'; readonly ms: number };

export interface StepResult {
  readonly op: ScriptStep['op'];
  /** 0 or a negative errno, as the guest's ioctl would return it (-110 for a timeout). */
  readonly status: number;
  readonly ms: number;
  /** For flips: how the vblank event was released. */
  readonly flip?: FlipOutcome;
  /** For dumb buffers: the pitch the driver chose. */
  readonly pitch?: number;
}

export type FlipOutcome = 'event' | 'timeout' | 'error';

export type FrontendCommand =
  | { readonly cmd: 'run'; readonly id: number; readonly devid?: number; readonly steps: readonly ScriptStep[] }
  /** Stops the behaviour (a display releases its buffers properly) and reports 'stopped'. */
  | { readonly cmd: 'stop' }
  /** Unloads the driver of a device as `rmmod` would (xen_drv_remove). */
  | { readonly cmd: 'remove'; readonly devid: number }
  | { readonly cmd: 'exit' };

export type FrontendReport =
  | { readonly kind: 'ready'; readonly domid: number }
  | { readonly kind: 'state'; readonly devid: number; readonly frontend: number; readonly backend: number }
  | {
      readonly kind: 'connected';
      readonly devid: number;
      readonly beAlloc: boolean;
      readonly connectors: readonly { readonly width: number; readonly height: number }[];
    }
  | { readonly kind: 'disconnected'; readonly devid: number }
  | { readonly kind: 'removed'; readonly devid: number }
  | {
      readonly kind: 'request';
      readonly devid: number;
      readonly conn: number;
      readonly op: number;
      readonly id: number;
      readonly status: number;
      readonly ms: number;
    }
  | {
      readonly kind: 'timeout';
      readonly devid: number;
      readonly conn: number;
      readonly op: number;
      readonly id: number;
    }
  | {
      readonly kind: 'ignored-response';
      readonly devid: number;
      readonly conn: number;
      readonly id: number;
      readonly operation: number;
      readonly why: string;
    }
  | {
      readonly kind: 'event-dropped';
      readonly devid: number;
      readonly conn: number;
      readonly expectedId: number;
      readonly gotId: number;
    }
  | {
      readonly kind: 'frame';
      readonly devid: number;
      readonly conn: number;
      readonly frame: number;
      readonly flip: FlipOutcome;
      readonly ms: number;
      readonly status: number;
      /** Since the connector's previous flip was released (absent for its first): the interval a user sees. */
      readonly intervalMs?: number;
      /** Wall-clock ms (Date.now()) when the flip was released, to set against other processes' stalls. */
      readonly at?: number;
      /** Of intervalMs, how long the guest's thread waited for a CPU (the machine's share), where known. */
      readonly waitMs?: number;
    }
  | { readonly kind: 'ring-violation'; readonly devid: number; readonly conn: number; readonly reason: string }
  | { readonly kind: 'fatal'; readonly devid: number; readonly errno: number; readonly message: string }
  | { readonly kind: 'script-result'; readonly id: number; readonly results: readonly StepResult[] }
  | {
      readonly kind: 'hostile-summary';
      readonly devid: number;
      readonly operations: number;
      readonly byAttack: Readonly<Record<string, number>>;
      readonly statuses: Readonly<Record<string, number>>;
      /** Requests that got -110: from the backend, or from the frontend's own 3 s wait. */
      readonly timeouts: number;
      /** Requests sent, and those no response came for while the device stayed connected. */
      readonly requests: number;
      readonly unanswered: number;
      /** Requests without a response because the backend closed the device (a protocol violation of ours). */
      readonly closedUnanswered: number;
      /** Responses with an id we did not send, the wrong operation, or a second time. */
      readonly strays: number;
      readonly backendClosed: boolean;
      /** false for a progress report of a long run; the last report of an app is final. */
      readonly final: boolean;
    }
  /** A behaviour ended (stop command, frame limit reached, or card gone) and released its buffers. */
  | { readonly kind: 'stopped'; readonly devid: number; readonly frames: readonly number[] }
  | { readonly kind: 'error'; readonly message: string }
  /** vkbd devices (device/vkbd/<devid>): state changes, the connection, input as the guest read it. */
  | { readonly kind: 'kbd-state'; readonly devid: number; readonly frontend: number; readonly backend: number }
  | {
      readonly kind: 'kbd-connected';
      readonly devid: number;
      readonly abs: boolean;
      readonly width: number;
      readonly height: number;
      readonly multiTouch: boolean;
      readonly uniqueId: string | null;
    }
  | {
      readonly kind: 'input';
      readonly devid: number;
      readonly events: readonly DecodedKbdEvent[];
      readonly x: number;
      readonly y: number;
      readonly down: readonly number[];
    }
  | { readonly kind: 'kbd-violation'; readonly devid: number; readonly reason: string };

export type FrontendReportKind = FrontendReport['kind'];
