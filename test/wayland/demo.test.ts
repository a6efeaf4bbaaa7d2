// `vdispld demo --output wayland` as a user runs it on a desktop: the demo guests as windows of the
// compositor named by $WAYLAND_DISPLAY (here a private Weston), and one line saying what it needs
// when there is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWeston, westonAvailable } from './helpers/weston.js';

const skip = westonAvailable()
  ? false
  : 'weston and weston-screenshooter are not installed (scripts/setup.sh installs them)';
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

function vdispld(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
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

void test(
  'vdispld demo --output wayland: every demo connector a window, flips paced by the compositor, pictures checked',
  { skip },
  async () => {
    const weston = await startWeston({ width: 1280, height: 800 });
    const dir = mkdtempSync(join(tmpdir(), 'vdispld-wl-demo-'));
    try {
      const sock = join(dir, 'control.sock');
      const r = await vdispld(
        [
          'demo',
          '--output',
          'wayland',
          '--guests',
          '2',
          '--duration',
          '4',
          '--snapshots',
          dir,
          '--json',
          '--control-socket',
          sock,
        ],
        weston.env,
        90_000,
      );
      assert.equal(r.code, 0, r.stderr);
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
        // Paced by frame callbacks, a connector flips far more often than the 4 the backend's 1 s
        // flip deadline alone would answer in 4 s; 20 keeps that margin on a loaded host too.
        assert.ok(c.flipEvents >= 20, `${c.output}: ${c.flipEvents} flip events in 4 s`);
        assert.ok(c.backend.flipsShown >= 20, `${c.output}: flips shown by frame callbacks`);
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
