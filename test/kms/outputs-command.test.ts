// `vdispld outputs`: what it lists for a card, and the one line users get without /dev/dri.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { collectOutputs, formatOutputs } from '../../src/commands/outputs.js';
import { FakeDrm, mode, drmError } from './fake-drm.js';

const root = new URL('../..', import.meta.url).pathname;

void test('connectors, modes (preferred starred) and card capabilities, as text and JSON', () => {
  const card = new FakeDrm({
    atomic: true,
    connectors: [
      { name: 'Virtual-1', modes: [mode(1024, 768, 60, true), mode(1920, 1080), mode(800, 600, 75)] },
      { name: 'HDMI-A-1', modes: [], connected: false },
    ],
    bootFb: 5,
  });
  const report = collectOutputs('auto', {
    open: (p) => {
      if (p.endsWith('card1')) throw drmError('open', 13);
      return card;
    },
    list: () => ['card1', 'renderD128', 'card0'],
    exists: () => true,
  });
  assert.equal(card.closed, true, 'listing closes the card');
  assert.equal(report.cards.length, 2, 'render nodes are not cards');
  const c0 = report.cards[0]!;
  assert.ok(!('error' in c0));
  assert.equal(c0.path, '/dev/dri/card0');
  assert.deepEqual(c0.caps, {
    dumbBuffers: true,
    primeImport: true,
    primeExport: true,
    atomic: true,
    universalPlanes: true,
    addfb2Modifiers: false,
    monotonicTimestamps: true,
  });
  assert.deepEqual(
    c0.connectors.map((k) => [k.name, k.connection, k.crtcId, k.modes.length]),
    [
      ['Virtual-1', 'connected', 40, 3],
      ['HDMI-A-1', 'disconnected', 0, 0],
    ],
  );
  assert.deepEqual(c0.connectors[0]!.modes[0], {
    width: 1024,
    height: 768,
    refreshMilliHz: 60000,
    preferred: true,
    name: '1024x768@60.00',
  });
  const c1 = report.cards[1]!;
  assert.ok('error' in c1 && c1.path === '/dev/dri/card1' && /EACCES/.test(c1.error));
  const text = formatOutputs(report).split('\n');
  assert.equal(
    text[0],
    '/dev/dri/card0 (fakedrm): atomic yes, PRIME import yes, PRIME export yes, dumb buffers yes, ADDFB2 modifiers no',
  );
  assert.match(
    text[1]!,
    /^ {2}Virtual-1 +connected +1024x768@60\.00\* 1920x1080@60\.00 800x600@75\.00 \(lit by CRTC 40\)$/,
  );
  assert.match(text[2]!, /^ {2}HDMI-A-1 +disconnected +no modes$/);
  assert.match(text[3]!, /^\/dev\/dri\/card1: not usable: .*EACCES/);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(report)));
});

void test('an explicit card that cannot be opened is an error, not a listing', () => {
  assert.throws(
    () =>
      collectOutputs('/dev/dri/card9', {
        open: () => {
          throw drmError('open', 2);
        },
        list: () => [],
        exists: () => true,
      }),
    /card0: open/,
  );
});

void test(
  '`vdispld outputs` without /dev/dri: one clear line and exit status 1',
  { skip: existsSync('/dev/dri') ? 'this machine has /dev/dri' : false },
  () => {
    for (const args of [['outputs'], ['outputs', '--json']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr.trim(),
        "vdispld: no /dev/dri: this machine has no DRM/KMS device — load the display's KMS driver (e.g. bochs-drm, virtio-gpu, i915), or use --output headless",
      );
    }
  },
);
