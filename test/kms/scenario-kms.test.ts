// The dom0 KMS scenario script (test/kms/scenario-kms.ts, run by the e2e machine on bochs-drm) runs
// here against the fake card, so it cannot rot: every step must hold, including its own pixel checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const root = new URL('../..', import.meta.url).pathname;

void test('scenario-kms --fake: exact, flips, centred, master taken and back, close', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/kms/scenario-kms.ts', '--fake', '--pause-ms', '0'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step?: string; ok?: boolean; shown?: number; failed?: string[] });
  assert.deepEqual(
    lines.filter((l) => l.step).map((l) => [l.step, l.ok]),
    [
      ['exact', true],
      ['flips', true],
      ['centred', true],
      ['master-taken', true],
      ['master-back', true],
      ['close', true],
    ],
  );
  assert.equal(lines.find((l) => l.step === 'flips')?.shown, 120);
  assert.deepEqual(lines.at(-1)?.failed, []);
});
