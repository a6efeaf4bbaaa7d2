// `vdispld demo --compose` as a user runs it: every demo guest composed on one headless output;
// the snapshot of that output holds each guest's own checkable picture in its rectangle (the
// frame number decodes from each rectangle alone), black where no guest is, and every guest
// flipped at its own rate without an error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLayout } from '../../src/backend/layouts.js';
import { composePlan } from '../../src/commands/demo-plan.js';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import { decodeFrameRgba } from '../../src/sim/frontend/pattern.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

function vdispld(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

void test('vdispld demo --compose: every guest in its rectangle of one output, pictures decoded from the snapshot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-compose-demo-'));
  try {
    const r = await vdispld(
      [
        'demo',
        '--compose',
        '--guests',
        '2',
        '--duration',
        '4',
        '--snapshots',
        dir,
        '--json',
        '--control-socket',
        join(dir, 'control.sock'),
      ],
      120_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      connectors: {
        domid: number;
        uniqueId: string;
        output: string;
        flipEvents: number;
        framesSubmitted: number;
        errors: number;
        timeouts: number;
      }[];
    };
    assert.ok(doc.ok);
    assert.equal(doc.connectors.length, 3);
    for (const c of doc.connectors) {
      assert.equal(c.output, 'screen0');
      assert.equal(c.errors + c.timeouts, 0);
      assert.ok(c.flipEvents >= 20, `dom${c.domid} ${c.uniqueId}: ${c.flipEvents} flips in 4 s`);
    }
    const plan = composePlan(2);
    const png = decodePng(readFileSync(join(dir, 'screen0.png')));
    assert.deepEqual([png.width, png.height], [plan.width, plan.height]);
    for (const e of parseLayout('screen0', plan.layout).entries) {
      const { x, y, width, height } = e.rect;
      const at = (y * png.width + x) * 4;
      const decoded = decodeFrameRgba(png.rgba.subarray(at), width, height, png.width * 4);
      const [guest, uid] = e.key.split('/');
      const c = doc.connectors.find((k) => `guest${k.domid}` === guest && k.uniqueId === uid)!;
      assert.ok(decoded, `${e.key}: its picture in its rectangle`);
      // The snapshot and the report's counts are taken one after the other while guests flip on.
      assert.ok(
        decoded.frame > 0 && decoded.frame <= c.framesSubmitted + 2,
        `${e.key}: frame ${decoded.frame} of ${c.framesSubmitted}`,
      );
    }
    // Right of guest 2's 640x360 and below it: no guest, black.
    for (const [x, y] of [
      [plan.width - 1, plan.height - 1],
      [700, 500],
    ] as const) {
      const o = (y * png.width + x) * 4;
      assert.deepEqual([...png.rgba.subarray(o, o + 3)], [0, 0, 0], `(${x},${y})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
