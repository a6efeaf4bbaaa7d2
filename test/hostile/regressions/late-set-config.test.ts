// A SET_CONFIG the output finishes late (after the backend's 2 s deadline answered it -ETIMEDOUT,
// after its framebuffer was detached on another connector's ring, or after the connection was torn
// down) must not leave the output showing the guest: the output ends unconfigured, the buffer's
// pages are let go, and the output is given back only once it is off. The output here is a named
// dom0 output whose modesets complete when the test says (a display whose commit hangs), once as
// KMS does them (one after the other) and once completing a disable before a late modeset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XEN_EBUSY, XEN_EINVAL, XEN_ENOENT, XEN_ETIMEDOUT, XenbusState as S } from '../../../src/displif/constants.js';
import { ASYNC_DEADLINE_MS } from '../../../src/backend/connector-channel.js';
import { HeadlessBackend } from '../../../src/drm/headless/headless-backend.js';
import type { HeadlessOutput } from '../../../src/drm/headless/headless-output.js';
import type { Request } from '../../../src/displif/requests.js';
import { cookie } from '../../../src/util/ids.js';
import { FailingBackend, type FailureMode } from '../lib/failing-output.js';
import { waitFor } from '../../backend/helpers/test-frontend.js';
import { assertNothingHeld, attachBuffer, world, type World } from '../../backend/helpers/xs-world.js';

const SCREEN = 'SCREEN-A';

async function slowScreenWorld(spec: string, serialise: boolean, mapped = 'id0') {
  const inner = new HeadlessBackend([{ name: SCREEN, width: 640, height: 480 }]);
  let open!: () => void;
  const mode: FailureMode = {
    dropEvery: 0,
    throwEvery: 0,
    refuseModesets: 0,
    serialise,
    modesetGate: new Promise<void>((r) => (open = r)),
  };
  const screen = new FailingBackend(inner, mode);
  const w = await world(spec, { connectorMap: new Map([[`guest5/${mapped}`, SCREEN]]), backends: [screen] });
  const out = inner.output(SCREEN) as HeadlessOutput;
  return {
    w,
    out,
    /** The guest's modeset reached the output (and waits there). */
    atOutput: () => screen.injected > 0,
    /** Lets every modeset asked for so far complete; later ones complete at once. */
    openGate: () => {
      mode.modesetGate = undefined;
      open();
    },
    close: async () => {
      open();
      await w.close();
      await inner.close();
    },
  };
}

const setConfig = (fb: bigint): Request => ({
  kind: 'set-config',
  config: { fbCookie: cookie(fb), x: 0, y: 0, width: 64, height: 48, bpp: 32 },
});

/** A request on connector `c`: its status, or the error of waiting for it as long as Linux does (3 s). */
function send(w: World, c: number, req: Request): Promise<number | Error> {
  return w.fe.request(c, req, 3000).then(
    (r) => r.status,
    (err: Error) => err,
  );
}

/** What the output holds once everything settled: it must be off and hold no framebuffer. */
async function assertScreenReleased(w: World, out: HeadlessOutput, why: string): Promise<void> {
  await waitFor(`${why}: ${SCREEN} off`, () => !out.enabled, 3000).catch(() => undefined);
  await w.backend.settled();
  assert.equal(out.enabled, false, `${why}: ${SCREEN} still shows the guest`);
  assert.equal(out.heldFramebuffers, 0, `${why}: ${SCREEN} framebuffers`);
  assert.equal(out.currentFrame(), undefined, `${why}: ${SCREEN} picture`);
}

for (const serialise of [false, true]) {
  const kind = serialise ? 'one modeset after the other (KMS)' : 'a disable done before a late modeset';
  void test(`guest goes Closing with its SET_CONFIG in a hung output (${kind}): torn down within the deadline, output off and given back once the modeset ends`, async () => {
    const s = await slowScreenWorld('connectors=id0:640x480', serialise);
    const { w, out } = s;
    try {
      await w.fe.connect(1);
      await attachBuffer(w, 1n, 11n, 64, 48);
      const answer = send(w, 0, setConfig(11n));
      await waitFor('the modeset at the output', s.atOutput);
      // The guest's driver goes away while the output works on its modeset.
      await w.fe.setState(S.Closing);
      const t0 = Date.now();
      await w.fe.waitBackend(S.InitWait, ASYNC_DEADLINE_MS + 3000);
      const releaseMs = Date.now() - t0;
      assert.ok(releaseMs < ASYNC_DEADLINE_MS + 1500, `released after ${releaseMs} ms, not held by the hung output`);
      // Until the output is done with the guest's modeset, it is not anyone else's.
      assert.ok(w.outputs.claims().has(SCREEN), `${SCREEN} stays claimed while its modeset runs`);
      s.openGate();
      await assertScreenReleased(w, out, 'after the late modeset');
      await waitFor(`${SCREEN} given back`, () => !w.outputs.claims().has(SCREEN));
      assertNothingHeld(w, 'after the late modeset');
      assert.ok((await answer) instanceof Error, 'a torn-down connection answers nothing');
      // The guest comes back and gets its screen again.
      await w.fe.setState(S.Initialising);
      await w.fe.publish(1);
      await w.fe.waitBackend(S.Connected);
      assert.equal(w.backend.status()[0]!.connectors[0]!.output, SCREEN);
    } finally {
      await s.close();
    }
  });
}

void test('a SET_CONFIG answered -ETIMEDOUT that the output finishes later leaves the connector off; another waits for it (-EBUSY)', async () => {
  const s = await slowScreenWorld('connectors=id0:640x480', true);
  const { w, out } = s;
  try {
    await w.fe.connect(1);
    await attachBuffer(w, 1n, 11n, 64, 48);
    assert.equal(await send(w, 0, setConfig(11n)), -XEN_ETIMEDOUT);
    assert.equal(await send(w, 0, setConfig(11n)), -XEN_EBUSY, 'the output has not finished the last one');
    s.openGate();
    await assertScreenReleased(w, out, 'after the timed-out modeset ended');
    assert.equal(w.backend.status()[0]!.connectors[0]!.scanout, null);
    assert.equal(
      await send(w, 0, { kind: 'pg-flip', fbCookie: cookie(11n) }),
      -XEN_EINVAL,
      'no flip on an off connector',
    );
    // The guest may try again, and then it is shown.
    assert.equal(await send(w, 0, setConfig(11n)), 0);
    assert.equal(out.enabled, true);
    assert.equal(await send(w, 0, { kind: 'pg-flip', fbCookie: cookie(11n) }), 0);
  } finally {
    await s.close();
  }
});

void test('a framebuffer detached and destroyed on connector 0 while connector 1 has its SET_CONFIG at the output: output off, pages let go', async () => {
  // Buffer operations go on connector 0's ring, which is free while connector 1's waits.
  const s = await slowScreenWorld('connectors=id0:320x240;id1:640x480', false, 'id1');
  const { w, out } = s;
  try {
    await w.fe.connect(2);
    await attachBuffer(w, 1n, 11n, 64, 48);
    const mapped = w.platform.resources().mappedPages;
    const answer = send(w, 1, setConfig(11n));
    await waitFor('the modeset at the output', s.atOutput);
    assert.equal(await send(w, 0, { kind: 'fb-detach', fbCookie: cookie(11n) }), 0);
    assert.equal(await send(w, 0, { kind: 'dbuf-destroy', dbufCookie: cookie(1n) }), 0);
    s.openGate();
    assert.equal(await answer, -XEN_ENOENT);
    await assertScreenReleased(w, out, 'after the late modeset of a destroyed buffer');
    assert.equal(w.backend.status()[0]!.connectors[1]!.scanout, null);
    // Only the four ring and event pages remain mapped.
    assert.equal(w.platform.resources().mappedPages, 4, `mapped pages (${mapped} with the buffer)`);
  } finally {
    await s.close();
  }
});
