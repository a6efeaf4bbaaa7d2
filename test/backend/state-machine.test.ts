import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XenbusState as S, xenbusStateName } from '../../src/displif/constants.js';
import {
  FRONTEND_STATES,
  PHASES,
  PUBLISHED_STATE,
  decide,
  phaseAfterConnectFailure,
  type Action,
  type FrontendState,
  type Phase,
  type Transition,
} from '../../src/backend/state-machine.js';

const name = (f: FrontendState): string => (f === 'absent' ? 'absent' : xenbusStateName(f));
const show = (t: Transition): string =>
  `${t.action.kind}${t.action.kind === 'release' ? `->${t.action.then}` : ''}/${t.next}`;

// The whole table written out a second time, by hand, column by column in XenbusState order
// Unknown, Initialising, InitWait, Initialised, Connected, Closing, Closed, Reconfiguring,
// Reconfigured, absent. A change to the table must change this too.
const EXPECTED: Record<Phase, string[]> = {
  idle: Array(10).fill('publish-initwait/initwait'),
  initwait: [
    'none/initwait',
    'none/initwait',
    'none/initwait',
    'connect/connected',
    'none/initwait',
    'none/initwait',
    'none/initwait',
    'none/initwait',
    'none/initwait',
    'none/initwait',
  ],
  connected: [
    'release->initwait/initwait',
    'release->initwait/initwait',
    'release->initwait/initwait',
    'none/connected',
    'none/connected',
    'release->initwait/initwait',
    'release->initwait/initwait',
    'release->initwait/initwait',
    'release->initwait/initwait',
    'release->initwait/initwait',
  ],
  'closed-retry': [
    'publish-initwait/initwait',
    'publish-initwait/initwait',
    'none/closed-retry',
    'none/closed-retry',
    'none/closed-retry',
    'publish-initwait/initwait',
    'publish-initwait/initwait',
    'none/closed-retry',
    'none/closed-retry',
    'none/closed-retry',
  ],
  failed: Array(10).fill('none/failed'),
  removed: Array(10).fill('none/removed'),
};

void test('every (phase, frontend state) pair of an online device', () => {
  assert.deepEqual(FRONTEND_STATES.map(name), [
    'Unknown',
    'Initialising',
    'InitWait',
    'Initialised',
    'Connected',
    'Closing',
    'Closed',
    'Reconfiguring',
    'Reconfigured',
    'absent',
  ]);
  for (const phase of PHASES) {
    FRONTEND_STATES.forEach((fe, i) => {
      // previousFrontend equal to now: no edge, so never a kick.
      const t = decide(phase, { frontend: fe, online: true }, fe);
      assert.equal(show(t), EXPECTED[phase][i], `${phase} × ${name(fe)}`);
    });
  }
});

void test('toolstack removal (online=0) ends every phase in removed, releasing only what is held', () => {
  for (const phase of PHASES) {
    for (const fe of FRONTEND_STATES) {
      const t = decide(phase, { frontend: fe, online: false }, undefined);
      assert.equal(t.next, 'removed');
      const expected: Action['kind'] = phase === 'removed' ? 'none' : phase === 'connected' ? 'release' : 'close';
      assert.equal(t.action.kind, expected, `${phase} × ${name(fe)}`);
      if (t.action.kind === 'release') assert.equal(t.action.then, 'removed');
    }
  }
});

void test('the InitWait kick fires only on an edge into Initialising', () => {
  const online = (frontend: FrontendState) => ({ frontend, online: true });
  // Frontend came back from Reconfiguring (be-alloc Linux) or from Closed: kick.
  for (const prev of [S.Reconfiguring, S.Closed, S.Closing, S.Connected, S.Unknown, 'absent'] as const) {
    assert.equal(decide('initwait', online(S.Initialising), prev).action.kind, 'kick-initwait', `from ${String(prev)}`);
  }
  // No edge, or first look: nothing (a rewrite on every event could disconnect a connected guest).
  assert.equal(decide('initwait', online(S.Initialising), S.Initialising).action.kind, 'none');
  assert.equal(decide('initwait', online(S.Initialising), undefined).action.kind, 'none');
  // Only in initwait.
  for (const phase of PHASES.filter((p) => p !== 'initwait')) {
    assert.notEqual(decide(phase, online(S.Initialising), S.Reconfiguring).action.kind, 'kick-initwait');
  }
});

void test('invariants: connect only from InitWait on Initialised; release only when connected', () => {
  for (const phase of PHASES) {
    for (const fe of FRONTEND_STATES) {
      for (const online of [true, false]) {
        for (const prev of [undefined, ...FRONTEND_STATES]) {
          const t = decide(phase, { frontend: fe, online }, prev);
          if (t.action.kind === 'connect') assert.ok(phase === 'initwait' && fe === S.Initialised && online);
          if (t.action.kind === 'release') assert.equal(phase, 'connected');
          if (phase === 'removed') assert.equal(t.action.kind, 'none');
          if (phase === 'failed' && online) assert.equal(t.action.kind, 'none');
        }
      }
    }
  }
  assert.equal(phaseAfterConnectFailure('frontend'), 'closed-retry');
  // A broken connection is released into Closed (retry), whatever the frontend's state says;
  // removal still wins; other phases have no connection to break.
  for (const fe of FRONTEND_STATES) {
    const t = decide('connected', { frontend: fe, online: true, broken: true }, fe);
    assert.deepEqual(t, { action: { kind: 'release', then: 'closed-retry' }, next: 'closed-retry' });
    assert.equal(decide('connected', { frontend: fe, online: false, broken: true }, fe).next, 'removed');
    assert.deepEqual(
      decide('initwait', { frontend: fe, online: true, broken: true }, fe),
      decide('initwait', { frontend: fe, online: true }, fe),
    );
  }
  assert.equal(phaseAfterConnectFailure('config'), 'failed');
  assert.equal(PUBLISHED_STATE.connected, S.Connected);
  assert.equal(PUBLISHED_STATE['closed-retry'], S.Closed);
});

/**
 * A frontend that reacts to backend states as Linux xen-drm-front 6.1 does (displback_changed),
 * for the whole-conversation checks below.
 */
function linuxFrontend(fe: S, be: S | undefined, beAlloc: boolean): S {
  switch (be) {
    case S.InitWait:
      if (fe === S.Reconfiguring) return fe;
      if (fe === S.Connected || fe === S.Initialised) {
        // displback_disconnect, then initwait only if it landed in Initialising.
        if (fe === S.Connected) return beAlloc ? S.Reconfiguring : S.Initialised;
        return fe;
      }
      return fe === S.Initialising ? S.Initialised : fe;
    case S.Connected:
      return fe === S.Initialised ? S.Connected : fe;
    case S.Closed:
      if (fe === S.Connected) return beAlloc ? S.Reconfiguring : S.Initialising;
      return fe;
    default:
      return fe;
  }
}

/** Runs backend and frontend against each other until neither moves; returns the final states. */
function converse(
  start: Phase,
  fe0: S,
  beAlloc: boolean,
  connectFails?: 'frontend' | 'config',
): { phase: Phase; fe: S; kicks: number } {
  let phase = start;
  let fe = fe0;
  let prev: FrontendState | undefined;
  let kicks = 0;
  for (let step = 0; step < 50; step++) {
    const t = decide(phase, { frontend: fe, online: true }, prev);
    prev = fe;
    if (t.action.kind === 'kick-initwait') kicks++;
    phase = t.action.kind === 'connect' && connectFails ? phaseAfterConnectFailure(connectFails) : t.next;
    const fe2 = linuxFrontend(fe, PUBLISHED_STATE[phase], beAlloc);
    // A be-alloc frontend leaves Reconfiguring when its last DRM user closes: model it as at once.
    const fe3 = fe2 === S.Reconfiguring ? S.Initialising : fe2;
    if (t.action.kind === 'none' && fe3 === fe) return { phase, fe, kicks };
    // Linux only re-runs its handshake on a backend state event: without a kick, a frontend back
    // in Initialising while we sit in InitWait would stay there.
    fe = fe3 === S.Initialising && t.action.kind === 'kick-initwait' ? S.Initialised : fe3;
  }
  throw new Error('no fixed point: the machines oscillate');
}

void test('conversations with a Linux-like frontend reach Connected', () => {
  // Fresh device.
  assert.deepEqual(converse('idle', S.Initialising, false), { phase: 'connected', fe: S.Connected, kicks: 0 });
  // Daemon restart with a live guest (frontend Connected, backend node says Connected from before).
  assert.equal(converse('idle', S.Connected, false).phase, 'connected');
  // The same for be-alloc, which passes through Reconfiguring and needs the kick.
  const r = converse('idle', S.Connected, true);
  assert.equal(r.phase, 'connected');
  assert.equal(r.kicks, 1);
  // Daemon restart while the frontend had just published its rings.
  assert.equal(converse('idle', S.Initialised, false).phase, 'connected');
  // A configuration fault stays failed; the frontend's fault ends Closed until it restarts.
  assert.equal(converse('initwait', S.Initialised, false, 'config').phase, 'failed');
});
