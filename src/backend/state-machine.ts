// The per-device XenBus state machine as one explicit table (docs/PROTOCOL-NOTES.md, "XenBus states"). Pure: given where
// the device is and what XenStore says now, it names the one action to take. The executor in
// device.ts performs the action and feeds the next snapshot back in until the action is 'none'
// (level-triggered), so a missed or coalesced watch event can never leave a device stuck.
import { XenbusState } from '../displif/constants.js';

/**
 * Where the backend end of a device is. Each phase owns a fixed set of resources: only
 * 'connected' holds rings, channels, buffers and outputs; every other phase holds nothing.
 */
export type Phase =
  /** Found, nothing published yet: a new device, or one that existed when the daemon started. */
  | 'idle'
  /** `versions` and state InitWait published; waiting for the frontend's rings. */
  | 'initwait'
  /** Rings mapped, channels bound, state Connected. */
  | 'connected'
  /** Closed after a fault of the frontend (bad ring refs, ring violation); re-armed when it restarts. */
  | 'closed-retry'
  /** Closed because the toolstack's configuration cannot be served; stays until the device is removed. */
  | 'failed'
  /** The toolstack removed the device (online=0) and we answered Closed; nothing more happens. */
  | 'removed';

export const PHASES: readonly Phase[] = ['idle', 'initwait', 'connected', 'closed-retry', 'failed', 'removed'];

/** The frontend's `state` node: a XenbusState, or absent (its directory is gone or unreadable). */
export type FrontendState = XenbusState | 'absent';

export const FRONTEND_STATES: readonly FrontendState[] = [...(Object.values(XenbusState) as XenbusState[]), 'absent'];

export type Action =
  /** Nothing to do until XenStore changes. */
  | { readonly kind: 'none' }
  /** Write `versions`, then state InitWait. */
  | { readonly kind: 'publish-initwait' }
  /**
   * Write InitWait again although it is already there. A frontend that left Reconfiguring for
   * Initialising (Linux does, after we went away) runs its handshake only on a backend state
   * event, and a rewrite of the same value fires the watch.
   */
  | { readonly kind: 'kick-initwait' }
  /** Read and validate the frontend's rings and channels, map and bind, then state Connected. */
  | { readonly kind: 'connect' }
  /**
   * Release every resource of the connection, then go to `then`: InitWait (ready to reconnect),
   * Closed after removal, or Closed with the XenBus error node after the frontend broke protocol.
   */
  | { readonly kind: 'release'; readonly then: 'initwait' | 'removed' | 'closed-retry' }
  /** Write state Closed (nothing is held). */
  | { readonly kind: 'close' };

export interface Transition {
  readonly action: Action;
  /** The phase after the action succeeds ('connect' may instead fail into 'closed-retry' or 'failed'). */
  readonly next: Phase;
}

export interface Snapshot {
  readonly frontend: FrontendState;
  /** The backend's `online` node: false only when it reads "0" (the toolstack's removal). */
  readonly online: boolean;
  /**
   * The live connection saw the frontend break the protocol (impossible ring indices). The
   * header's rule: handle it as if the frontend went Closed, here with an error for the admin.
   */
  readonly broken?: boolean;
}

const NONE: Action = { kind: 'none' };
const stay = (p: Phase): Transition => ({ action: NONE, next: p });
const go = (action: Action, next: Phase): Transition => ({ action, next });

const PUBLISH = go({ kind: 'publish-initwait' }, 'initwait');
const CONNECT = go({ kind: 'connect' }, 'connected');
const RESET = go({ kind: 'release', then: 'initwait' }, 'initwait');

type Row = Readonly<Record<FrontendState, Transition>>;

function row(entries: Partial<Record<FrontendState, Transition>>, otherwise: Transition): Row {
  const r = {} as Record<FrontendState, Transition>;
  for (const s of FRONTEND_STATES) r[s] = entries[s] ?? otherwise;
  return r;
}

const S = XenbusState;

/**
 * The table for an online device. Rows: our phase; columns: the frontend's state. Removal
 * (online=0) overrides every row and is handled in `decide`.
 */
export const TABLE: Readonly<Record<Phase, Row>> = {
  // Whatever the frontend is doing, announce ourselves first. A frontend found Connected (daemon
  // restart with a live guest) sees InitWait, drops its old connection and handshakes afresh.
  idle: row({}, PUBLISH),
  initwait: row(
    {
      [S.Initialised]: CONNECT,
      // Connected here means a connection from before our InitWait; Linux tears it down when it
      // sees InitWait and comes back through Initialising.
    },
    stay('initwait'),
  ),
  connected: row(
    {
      [S.Initialised]: stay('connected'),
      [S.Connected]: stay('connected'),
    },
    // Initialising/Unknown: the frontend restarted in place. Closing/Closed: its driver went away
    // and waits (1 s in Linux) for us to be InitWait again. Reconfiguring: it dropped the
    // connection. Absent: the guest is gone. In all cases: release and be ready to reconnect.
    RESET,
  ),
  'closed-retry': row(
    {
      // The frontend reacted to our Closed by restarting, or its driver is being removed and
      // waits for InitWait: offer a fresh connection.
      [S.Unknown]: PUBLISH,
      [S.Initialising]: PUBLISH,
      [S.Closing]: PUBLISH,
      [S.Closed]: PUBLISH,
    },
    stay('closed-retry'),
  ),
  failed: row({}, stay('failed')),
  removed: row({}, stay('removed')),
};

/**
 * The one decision function. `previousFrontend` is the frontend state seen at the last decision
 * (undefined at the first), used only to send the InitWait kick on an edge, never on every event.
 * `readyWhenConnected`: a frontend found Connected in InitWait is ready, not stale (kbdif).
 */
export function decide(
  phase: Phase,
  now: Snapshot,
  previousFrontend: FrontendState | undefined,
  readyWhenConnected = false,
): Transition {
  if (!now.online) {
    if (phase === 'removed') return stay('removed');
    if (phase === 'connected') return go({ kind: 'release', then: 'removed' }, 'removed');
    return go({ kind: 'close' }, 'removed');
  }
  if (phase === 'connected' && now.broken === true)
    return go({ kind: 'release', then: 'closed-retry' }, 'closed-retry');
  // kbdif: Linux's frontend goes Connected by itself on InitWait (docs/PROTOCOL-NOTES.md, kbdif).
  if (readyWhenConnected && phase === 'initwait' && now.frontend === S.Connected) return CONNECT;
  const t = TABLE[phase][now.frontend];
  if (
    phase === 'initwait' &&
    t.action.kind === 'none' &&
    now.frontend === S.Initialising &&
    previousFrontend !== undefined &&
    previousFrontend !== S.Initialising
  ) {
    return go({ kind: 'kick-initwait' }, 'initwait');
  }
  return t;
}

/** What a failed 'connect' leads to: the frontend's fault may be retried, the toolstack's may not. */
export function phaseAfterConnectFailure(fault: 'frontend' | 'config'): Phase {
  return fault === 'frontend' ? 'closed-retry' : 'failed';
}

/** The XenbusState the backend's `state` node shows in each phase. */
export const PUBLISHED_STATE: Readonly<Record<Phase, XenbusState | undefined>> = {
  idle: undefined,
  initwait: S.InitWait,
  connected: S.Connected,
  'closed-retry': S.Closed,
  failed: S.Closed,
  removed: S.Closed,
};
