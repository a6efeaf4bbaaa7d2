// `--connector GUEST/ID=wayland:NAME` with the daemon as it ships (the bundle `npm run build`
// makes) against Debian's Weston 10: its wl_output is version 3, without a name, so the output's
// name ("headless" on the headless backend) comes from xdg-output. The guest's connector is full
// screen on that output pixel for pixel; a NAME the compositor does not have leaves that connector
// headless with one log line naming the outputs there are, and the guest's other connector shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDaemon } from '../../bench/lib/build.js';
import { SimHost } from '../../src/sim/host.js';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import { killed, spawnDaemon, troubles, waitConnected } from '../backend/helpers/sim-world.js';
import { waitFor } from '../backend/helpers/test-frontend.js';
import { startWeston, westonAvailable } from './helpers/weston.js';
import { expected, script, wayland } from './helpers/wayland-world.js';
import { WaylandConnection } from '../../src/drm/wayland/wayland-connection.js';

const skip = westonAvailable()
  ? false
  : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';

const ENODEV = 19;
/** What Weston's headless backend calls its output (its log: "Output 'headless' enabled"). */
const HEADLESS = 'headless';

const work = mkdtempSync(join(tmpdir(), 'vdispld-wl-build-'));
let MAIN = '';
before(async () => {
  if (!skip) MAIN = await buildDaemon(work);
});
after(() => rmSync(work, { recursive: true, force: true }));

function status(sock: string, env: NodeJS.ProcessEnv, json: boolean): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, 'status', ...(json ? ['--json'] : []), '--socket', sock], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env,
    });
    let stdout = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.on('exit', (code) => resolve({ code, stdout }));
  });
}

interface LogLine {
  level: number;
  msg: string;
  errno?: number;
  outputs?: string[];
  fullscreenOn?: string;
}

void test(
  'vdispld run --connector vm/id0=wayland:headless on Weston 10 (wl_output v3, xdg-output names): full screen on that output, pixel for pixel; an unknown NAME runs its connector headless with one line naming the outputs',
  { skip },
  async () => {
    const weston = await startWeston({ width: 640, height: 480 });
    const host = await SimHost.start();
    const sock = join(host.dir, 'control.sock');
    const env = { ...weston.env, VDISPLD_CONFIG: '' };
    let log = '';
    const lines = (): LogLine[] =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine);
    let daemon: ChildProcess | undefined;
    try {
      daemon = await spawnDaemon(
        host,
        [
          '--wayland-display',
          `${weston.runtimeDir}/${weston.socket}`,
          '--connector',
          `vm/id0=wayland:${HEADLESS}`,
          '--connector',
          'vm/id1=wayland:HDMI-A-9',
          '--control-socket',
          sock,
          '--log-format',
          'json',
        ],
        { main: MAIN, env, onLog: (chunk) => (log += chunk) },
      );
      const g = await host.createDomain({
        name: 'vm',
        vdispl: ['connectors=id0:640x480;id1:320x240'],
        frontend: { kind: 'idle' },
        verbose: false,
      });
      await waitConnected(g);
      const r = await g.run([...script(0, 640, 480, 'XRGB8888', 30), ...script(1, 320, 240, 'XRGB8888', 30)], {
        timeoutMs: 60_000,
      });
      assert.deepEqual(
        r.filter((x) => x.status !== 0 || (x.op === 'flip' && x.flip !== 'event')),
        [],
        'both connectors flip: the full-screen one paced by Weston, the unmapped one headless',
      );
      // The whole of Weston's 640x480 output is the guest's frame 30: full screen, unscaled, no
      // panel or background left around it.
      const want = expected(640, 480, 'XRGB8888', 30, g.domid, 0);
      await waitFor(
        "the guest's frame 30 full screen on Weston's output",
        async () => {
          const shot = await weston.screenshot();
          return shot.width === 640 && shot.height === 480 && Buffer.compare(shot.rgba, want.rgba) === 0;
        },
        30_000,
      );
      // The unknown name: one warning for that connector, with ENODEV and the outputs there are.
      const refused = lines().filter((l) => l.msg.includes('HDMI-A-9'));
      assert.equal(refused.length, 1, log);
      assert.equal(refused[0]!.level, 40);
      assert.equal(refused[0]!.errno, ENODEV);
      assert.deepEqual(refused[0]!.outputs, [HEADLESS]);
      assert.match(
        refused[0]!.msg,
        /the compositor has no output "HDMI-A-9" \(its outputs: "headless"\); the connector runs headless/,
      );
      assert.deepEqual(
        lines()
          .filter((l) => l.msg.includes('no window'))
          .map((l) => l.fullscreenOn),
        ['HDMI-A-9'],
        'the connector mapped to an output that is there got its window',
      );
      // Status names the compositor's outputs as the mapping does; the full-screen connector's
      // pixels are copied into wl_shm, the other's read in place by its headless output.
      type Doc = {
        compositorOutputs: { name: string; width: number; height: number }[];
        outputs: { name: string; kind: string; width: number; height: number }[];
        devices: { connectors: { uniqueId: string; output: string; path?: string }[] }[];
      };
      let doc: Doc | undefined;
      await waitFor('status', async () => {
        const s = await status(sock, env, true);
        if (s.code === 0) doc = JSON.parse(s.stdout) as Doc;
        return doc !== undefined;
      });
      assert.deepEqual(
        doc!.compositorOutputs.map((o) => [o.name, o.width, o.height]),
        [[HEADLESS, 640, 480]],
      );
      assert.deepEqual(
        doc!.devices.flatMap((x) => x.connectors.map((c) => [c.uniqueId, c.path])),
        [
          ['id0', 'copied'],
          ['id1', 'mapped'],
        ],
      );
      const text = await status(sock, env, false);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^compositor outputs \(wayland:NAME\): headless 640x480$/m);
      // Both are outputs of the Wayland backend beside the headless primary, listed as such, and
      // `vdispld snapshot` reads what each shows: the full-screen one its window's picture.
      const conns = doc!.devices.flatMap((x) => x.connectors);
      assert.deepEqual(
        doc!.outputs.filter((o) => o.kind === 'wayland').map((o) => [o.name, o.width, o.height]),
        [
          [conns[0]!.output, 640, 480],
          [conns[1]!.output, 320, 240],
        ],
      );
      const png = join(host.dir, 'id0.png');
      const snap = spawnSync(process.execPath, [MAIN, 'snapshot', `${g.domid}/0/id0`, '-o', png, '--socket', sock], {
        env,
        encoding: 'utf8',
      });
      assert.equal(snap.status, 0, snap.stderr);
      const pic = decodePng(readFileSync(png));
      assert.equal(Buffer.compare(pic.rgba, want.rgba), 0, 'the snapshot is the frame on screen');
      assert.deepEqual(troubles(g), []);
      await host.destroyDomain(g.domid);
      daemon.kill('SIGTERM');
      await killed(daemon);
      assert.equal(daemon.exitCode, 0, log);
    } finally {
      if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
      if (daemon) await killed(daemon);
      await host.close();
      await weston.close();
    }
  },
);

void test(
  "the Wayland module names Weston 10's output from xdg-output, one zxdg_output_v1 per wl_output, released with the connection; an unknown name is ENODEV with nothing made",
  { skip },
  async () => {
    const weston = await startWeston({ width: 640, height: 480 });
    try {
      const conn = new WaylandConnection(`${weston.runtimeDir}/${weston.socket}`, () => {});
      try {
        assert.deepEqual(
          conn.outputs().map((o) => [o.name, o.width, o.height, o.refreshMilliHz]),
          [[HEADLESS, 640, 480, 60000]],
        );
        assert.deepEqual(wayland(), { connections: 1, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 1 });
        const spec = { title: 't', appId: 'vdispld', width: 64, height: 48, stride: 256, shmFormat: 1 };
        assert.throws(
          () => conn.createWindow({ ...spec, fullscreenOn: 'HDMI-A-9' }, () => {}),
          (e: unknown) =>
            (e as { errno?: number }).errno === ENODEV && /no wl_output HDMI-A-9/.test((e as Error).message),
        );
        assert.deepEqual(wayland(), { connections: 1, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 1 });
        const w = conn.createWindow({ ...spec, fullscreenOn: HEADLESS }, () => {});
        assert.deepEqual(wayland(), { connections: 1, windows: 1, shmPools: 1, dmabufBuffers: 0, xdgOutputs: 1 });
        conn.destroyWindow(w.id);
      } finally {
        conn.close();
      }
      assert.deepEqual(wayland(), { connections: 0, windows: 0, shmPools: 0, dmabufBuffers: 0, xdgOutputs: 0 });
    } finally {
      await weston.close();
    }
  },
);
