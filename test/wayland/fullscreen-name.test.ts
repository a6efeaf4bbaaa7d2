// `--connector GUEST/ID=wayland:NAME` with the daemon as it ships (the bundle `npm run build`
// makes) against Debian's Weston 10: its wl_output is version 3, without a name, so the output's
// name ("headless" on the headless backend) comes from xdg-output. The guest's connector is full
// screen on that output pixel for pixel; a NAME the compositor does not have leaves that connector
// headless with one log line naming the outputs there are, and the guest's other connector shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDaemon } from '../../bench/lib/build.js';
import { SimHost } from '../../src/sim/host.js';
import { troubles, waitConnected } from '../backend/helpers/sim-world.js';
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

function run(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

function status(sock: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, 'status', '--json', '--socket', sock], {
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
    const d = run(
      [
        'run',
        '--platform',
        'sim',
        '--sim-dir',
        host.dir,
        '--xenstore',
        host.xenstoredPath,
        '--output',
        'headless',
        '--wayland-display',
        `${weston.runtimeDir}/${weston.socket}`,
        '--connector',
        `vm/id0=wayland:${HEADLESS}`,
        '--connector',
        'vm/id1=wayland:HDMI-A-9',
        '--control-socket',
        sock,
        '--log-level',
        'info',
        '--log-format',
        'json',
      ],
      env,
    );
    const lines = (): LogLine[] =>
      d
        .log()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine);
    try {
      await waitFor(
        'the daemon ready',
        () => {
          if (d.child.exitCode !== null) throw new Error(`vdispld run exited with ${d.child.exitCode}:\n${d.log()}`);
          return d.log().includes('watching for vdispl devices');
        },
        120_000,
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
      assert.equal(refused.length, 1, d.log());
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
      // Status names the compositor's outputs as the mapping does, and shows both connectors.
      let doc: { compositorOutputs: { name: string; width: number; height: number }[] } | undefined;
      await waitFor('status', async () => {
        const s = await status(sock, env);
        if (s.code === 0) doc = JSON.parse(s.stdout) as typeof doc;
        return doc !== undefined;
      });
      assert.deepEqual(
        doc!.compositorOutputs.map((o) => [o.name, o.width, o.height]),
        [[HEADLESS, 640, 480]],
      );
      assert.deepEqual(troubles(g), []);
      await host.destroyDomain(g.domid);
      d.child.kill('SIGTERM');
      const code = await new Promise<number | null>((res) =>
        d.child.exitCode !== null ? res(d.child.exitCode) : d.child.once('exit', res),
      );
      assert.equal(code, 0, d.log());
    } finally {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
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
