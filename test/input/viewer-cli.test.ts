// --viewer-input on the command line: refused, with one line naming why, without a viewer or with a
// viewer that is not on loopback (input from the viewer has no authentication).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

void test('--viewer-input needs a loopback viewer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vdispld-vi-'));
  try {
    for (const [extra, re] of [
      [[], /--viewer-input needs the viewer \(--viewer PORT\)/],
      [['--viewer', '0.0.0.0:0'], /--viewer-input needs the viewer on a loopback address, not 0\.0\.0\.0/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          MAIN,
          'run',
          '--platform',
          'sim',
          '--sim-dir',
          dir,
          '--xenstore',
          join(dir, 'none'),
          '--control-socket',
          join(dir, 'c'),
          '--log-format',
          'json',
          '--viewer-input',
          ...extra,
        ],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, VDISPLD_CONFIG: '' },
        },
      );
      assert.notEqual(r.status, 0);
      const fatal = r.stderr.split('\n').filter((l) => l.includes('"level":60'));
      assert.equal(fatal.length, 1, r.stderr);
      assert.match(fatal[0]!, re);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
