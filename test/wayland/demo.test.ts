// `vdispld demo --output wayland` as a user runs it on a desktop: the demo guests as windows of the
// compositor named by $WAYLAND_DISPLAY (here a private Weston), and one line saying what it needs
// when there is none. It runs what ships: the bundle `npm run build` makes (built once into a temp
// directory as bench/lib/build.ts builds it), with `vdispld status` asked while the demo runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDaemon } from '../../bench/lib/build.js';
import { DMABUF_REASONS } from '../../src/drm/wayland/window-dmabufs.js';
import { startWeston, westonAvailable } from './helpers/weston.js';

const skip = westonAvailable()
  ? false
  : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';

const work = mkdtempSync(join(tmpdir(), 'vdispld-wl-build-'));
let MAIN = '';
before(async () => {
  MAIN = await buildDaemon(work);
});
after(() => rmSync(work, { recursive: true, force: true }));

function vdispld(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vdispld ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface StatusDoc {
  devices: { connectors: { path?: string; buffer?: string }[] }[];
  copyFallbacks: Record<string, number>;
  copiedBytes: Record<string, number> | null;
}

void test(
  'vdispld demo --output wayland: every demo connector a window, flips paced by the compositor, pictures checked',
  { skip },
  async () => {
    const weston = await startWeston({ width: 1280, height: 800 });
    const dir = mkdtempSync(join(tmpdir(), 'vdispld-wl-demo-'));
    try {
      const sock = join(dir, 'control.sock');
      const demo = vdispld(
        [
          'demo',
          '--output',
          'wayland',
          '--guests',
          '2',
          '--duration',
          '6',
          '--snapshots',
          dir,
          '--json',
          '--log-level',
          'info',
          '--control-socket',
          sock,
        ],
        weston.env,
        90_000,
      );
      // While it runs: status says how each window gets its pixels, and why not as a dma-buf.
      let status: StatusDoc | undefined;
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        const s = await vdispld(['status', '--json', '--socket', sock], weston.env, 30_000);
        if (s.code === 0) {
          const doc = JSON.parse(s.stdout) as StatusDoc;
          const conns = doc.devices.flatMap((d) => d.connectors);
          if (conns.length === 3 && conns.every((c) => c.path !== undefined)) {
            status = doc;
            break;
          }
        }
        await new Promise((res) => setTimeout(res, 300));
      }
      const r = await demo;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(status, `no status with three shown connectors while the demo ran\n${r.stderr}`);
      // Every buffer is copied into wl_shm, the guests' own and the be-alloc ones (dom0's pages) alike.
      const conns = status.devices.flatMap((d) => d.connectors);
      assert.deepEqual(
        conns.map((c) => [c.path, c.buffer]),
        [
          ['copied', 'guest'],
          ['copied', 'guest'],
          ['copied', 'be-alloc'],
        ],
      );
      // Debian's Weston with pixman offers no linux-dmabuf: that is the reason, counted once per
      // framebuffer (each demo connector flips between two), not once per flip.
      assert.deepEqual(Object.keys(status.copyFallbacks), [DMABUF_REASONS.noGlobal]);
      const counted = status.copyFallbacks[DMABUF_REASONS.noGlobal]!;
      assert.ok(counted >= 2 && counted <= 6, JSON.stringify(status.copyFallbacks));
      assert.ok(
        Object.values(status.copiedBytes ?? {}).every((n) => n > 0),
        JSON.stringify(status.copiedBytes),
      );
      // ... and the log says it once.
      const lines = r.stderr.split('\n').filter((l) => l.includes(DMABUF_REASONS.noGlobal));
      assert.equal(lines.length, 1, r.stderr);
      const doc = JSON.parse(r.stdout) as {
        connectors: {
          output: string;
          flipEvents: number;
          errors: number;
          timeouts: number;
          snapshotFrame: number | null;
          backend: { flipsShown: number };
        }[];
      };
      assert.equal(doc.connectors.length, 3, 'guest 1: two connectors, guest 2: one');
      for (const c of doc.connectors) {
        // Paced by the compositor, a connector flips far more often than the 6 the backend's 1 s
        // flip deadline alone would answer in 6 s (or the hidden-window pacing, whose flips are
        // dropped, not shown); 20 keeps that margin on a loaded host too.
        assert.ok(c.flipEvents >= 20, `${c.output}: ${c.flipEvents} flip events in 6 s`);
        assert.ok(c.backend.flipsShown >= 20, `${c.output}: flips shown by the compositor's feedback`);
        assert.equal(c.errors + c.timeouts, 0, c.output);
        // The snapshot is read back from the window's shm buffer: what the compositor was given.
        assert.ok(
          c.snapshotFrame !== null && c.snapshotFrame > 0,
          `${c.output}: the window's picture carries the guest's frame number`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await weston.close();
    }
  },
);

void test('vdispld demo --output wayland without WAYLAND_DISPLAY: one line saying what it needs, exit non-zero', async () => {
  const env = { ...process.env };
  delete env['WAYLAND_DISPLAY'];
  const r = await vdispld(['demo', '--output', 'wayland', '--duration', '1'], env, 60_000);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--output wayland needs a Wayland compositor: set WAYLAND_DISPLAY/);
});
