// `vdispld demo` as a user and CI run it: a separate process, no Xen, no GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import { decodeFrameRgba } from '../../src/sim/frontend/pattern.js';
import { guestPlan, percentile } from '../../src/commands/demo.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

function vdispld(
  args: string[],
  opts: { timeoutMs: number; onStdout?: (all: string, kill: (sig: NodeJS.Signals) => void) => void },
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vdispld ${args.join(' ')} did not finish in ${opts.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, (sig) => child.kill(sig));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface DemoConnector {
  domid: number;
  uniqueId: string;
  resolution: string;
  beAlloc: boolean;
  framesSubmitted: number;
  flipEvents: number;
  errors: number;
  timeouts: number;
  flipLatencyMs: { p50: number | null; p99: number | null };
  snapshot: string | null;
  snapshotFrame: number | null;
}

void test('demo --guests 2 --duration --snapshots --json: one JSON document, a PNG per connector, exit 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-demo-'));
  try {
    const r = await vdispld(['demo', '--guests', '2', '--duration', '4', '--snapshots', dir, '--json'], {
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      connectors: DemoConnector[];
      guests: { domid: number; errors: number; timeouts: number; inputEvents: number }[];
    };
    assert.equal(doc.ok, true);
    // One guest with two connectors, one in be-alloc mode.
    assert.deepEqual(
      doc.connectors.map((c) => [c.domid, c.uniqueId, c.resolution, c.beAlloc]),
      [
        [1, 'main', '640x480', false],
        [1, 'side', '480x270', false],
        [2, 'main', '640x360', true],
      ],
    );
    for (const c of doc.connectors) {
      assert.ok(c.flipEvents > 30, `${c.domid}/${c.uniqueId}: ${c.flipEvents} flip events`);
      assert.equal(c.flipEvents, c.framesSubmitted);
      assert.equal(c.errors + c.timeouts, 0);
      assert.ok(c.flipLatencyMs.p50! > 0 && c.flipLatencyMs.p99! >= c.flipLatencyMs.p50!);
      assert.ok(c.snapshot && existsSync(c.snapshot));
      const png = decodePng(readFileSync(c.snapshot));
      const tag = decodeFrameRgba(png.rgba, png.width, png.height);
      assert.ok(tag, `${c.snapshot} carries the guest's frame code`);
      assert.equal(tag.frame, c.snapshotFrame);
      assert.equal(tag.domid, c.domid);
      assert.equal(`${png.width}x${png.height}`, c.resolution);
    }
    assert.deepEqual(
      doc.guests.map((g) => g.errors + g.timeouts),
      [0, 0],
    );
    // The demo is its own input source: guest 1 has focus first and receives the circling pointer.
    assert.ok(doc.guests[0]!.inputEvents > 10, `guest 1 received ${doc.guests[0]!.inputEvents} input events`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('demo --duration is time with every guest showing: a run shorter than connecting takes still shows them all', async () => {
  // Connecting a guest (its process, XenStore, buffers, the first flip) takes longer than 0.01 s; the
  // time starts once every connector has had a flip answered, however loaded the machine is.
  const r = await vdispld(['demo', '--guests', '1', '--duration', '0.01', '--json'], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr || r.stdout);
  const doc = JSON.parse(r.stdout) as { ok: boolean; connectors: DemoConnector[] };
  assert.equal(doc.ok, true);
  assert.equal(doc.connectors.length, 2);
  for (const c of doc.connectors) assert.ok(c.flipEvents >= 1, `${c.uniqueId}: ${c.flipEvents} flip events`);
});

void test('demo without --duration runs until SIGINT, prints live lines, and stops cleanly', async () => {
  let sent = false;
  const r = await vdispld(['demo', '--guests', '1'], {
    timeoutMs: 90_000,
    onStdout: (all, kill) => {
      // Live lines come every 5 s when stdout is not a terminal.
      if (!sent && /dom1 side .* fps/.test(all)) {
        sent = true;
        kill('SIGINT');
      }
    },
  });
  assert.ok(sent, r.stdout);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /interrupted; stopped cleanly/);
  assert.match(r.stdout, /dom1 main: \d+\/\d+ flips with events.*errors 0, timeouts 0/);
});

void test('demo options: guest plans and percentiles', () => {
  assert.deepEqual(guestPlan(1), {
    vdispl: 'connectors=main:640x480;side:480x270',
    formats: ['XRGB8888', 'RGB565'],
    beAlloc: false,
    vkb: 'backend-type=linux,unique-id=main',
  });
  assert.equal(guestPlan(2).beAlloc, true);
  assert.equal(guestPlan(3).beAlloc, false);
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([5, 1, 3, 2, 4], 99), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
});

void test('demo rejects bad options with one line and exit 2', async () => {
  const r = await vdispld(['demo', '--guests', '0'], { timeoutMs: 30_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--guests.*expected 1\.\.16/);
});
