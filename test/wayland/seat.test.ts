// Real input through a real compositor: Weston's X11 backend in an Xvfb has a seat, and xdotool
// moves the X pointer and presses X keys; Weston hands them to the window of the guest under them
// (kiosk-shell: the window fills the output, so X coordinates are surface coordinates), and the
// addon's wl_seat listeners, the window input and the router deliver them to that guest's vkbd,
// read back as the simulated guest's kernel read them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BTN_LEFT } from '../../src/kbdif/constants.js';
import type { FrontendReport } from '../../src/sim/frontend/protocol.js';
import type { SimGuest } from '../../src/sim/host.js';
import { waitConnected, troubles } from '../backend/helpers/sim-world.js';
import { westonAvailable } from './helpers/weston.js';
import { startXvfb, xvfbAvailable } from './helpers/xvfb.js';
import { openFds, wayland, waylandWorld } from './helpers/wayland-world.js';
import { waitFor } from '../backend/helpers/test-frontend.js';

type Input = Extract<FrontendReport, { kind: 'input' }>;
const KEY_A = 30;

const skip =
  westonAvailable() && xvfbAvailable()
    ? false
    : 'weston, Xvfb or xdotool is not installed (scripts/setup.sh installs them)';

const inputs = (g: SimGuest): Input[] => g.reports.filter((r): r is Input => r.kind === 'input');

void test(
  "the compositor's pointer, buttons, wheel and keys on a guest's window reach that guest's vkbd, at the window's coordinates",
  { skip, timeout: 120_000 },
  async () => {
    const fds = openFds();
    const x = await startXvfb(640, 480);
    try {
      const w = await waylandWorld({
        width: 640,
        height: 480,
        shell: 'kiosk-shell.so',
        x11Display: x.display,
        input: true,
      });
      try {
        const g = await w.host.createDomain({
          vdispl: ['connectors=id0:640x480'],
          vkb: ['backend-type=linux,unique-id=id0'],
          frontend: { kind: 'display', maxFps: 30 },
          verbose: false,
        });
        await waitConnected(g);
        await g.waitFor((r) => r.kind === 'kbd-connected', { timeoutMs: 15_000 });
        // Each step looks only at what the guest read after it: an earlier report cannot pass it.
        let seen = 0;
        const after = async (what: string, act: () => void, ok: (i: Input) => boolean): Promise<Input> => {
          act();
          const got = await waitFor(what, () => inputs(g).slice(seen).find(ok), 10_000).catch((err: Error) => {
            throw new Error(`${err.message}; the guest read ${JSON.stringify(inputs(g).slice(seen))}`);
          });
          seen = inputs(g).indexOf(got) + 1;
          return got;
        };
        const xdo =
          (...args: string[]) =>
          () =>
            x.xdotool(...args);
        const none = () => {};

        // The window is up once the guest has flipped into it: the pointer enters it where X left it,
        // the middle of the screen, and kiosk-shell gives it the keyboard.
        await after('the pointer entering at the middle', none, (i) => i.x === 320 && i.y === 240);
        await after('the pointer at (100, 50)', xdo('mousemove', '100', '50'), (i) => i.x === 100 && i.y === 50);
        await after('the pointer at (613, 457)', xdo('mousemove', '613', '457'), (i) => i.x === 613 && i.y === 457);
        await after('the left button held', xdo('mousedown', '1'), (i) => i.down.includes(BTN_LEFT));
        await after('the left button released', xdo('mouseup', '1'), (i) => !i.down.includes(BTN_LEFT));
        await after('a wheel step', xdo('click', '5'), (i) => i.events.some((e) => e.kind === 'pos' && e.relZ !== 0));
        await after('KEY_A held', xdo('keydown', 'a'), (i) => i.down.includes(KEY_A));
        const last = await after('KEY_A released', xdo('keyup', 'a'), (i) => !i.down.includes(KEY_A));
        assert.deepEqual([last.x, last.y], [613, 457], 'the pointer stays where it was');
        assert.equal(w.router?.focus?.domid, g.domid, "the window's keyboard focus is the guest's vkbd");
        assert.deepEqual(troubles(g), []);
        await w.host.destroyDomain(g.domid);
        await w.backend.settled();
      } finally {
        await w.close();
      }
    } finally {
      await x.close();
    }
    assert.deepEqual(wayland(), { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 });
    assert.equal(openFds(), fds, 'no descriptor left');
  },
);
