import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseTimespan, parseUnit } from '../lib/daemon.js';
import { REPO_DIR } from '../lib/image.js';
import { parseConnectedModes, parseConnectors, parseCrtcs, parseFlipRates } from '../lib/modetest.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

void test('modetest -c from dom0 (bochs-drm under QEMU): one connected Virtual-1 with its modes', () => {
  const c = parseConnectors(fixture('modetest-bochs-c.txt'));
  assert.equal(c.length, 1);
  assert.equal(c[0]!.id, 31);
  assert.equal(c[0]!.encoder, 36);
  assert.equal(c[0]!.status, 'connected');
  assert.equal(c[0]!.name, 'Virtual-1');
  assert.equal(c[0]!.modes[0], '1280x800');
  assert.ok(c[0]!.modes.includes('800x600'));
});

void test("modetest -c: the connected connector's modes with refresh and the preferred one", () => {
  const modes = parseConnectedModes(fixture('modetest-bochs-c.txt'));
  assert.equal(modes.length, 15);
  assert.deepEqual(modes[0], { width: 1280, height: 800, refresh: 74.99, preferred: true });
  assert.deepEqual(modes[12], { width: 800, height: 600, refresh: 60.32, preferred: false });
  assert.equal(modes.filter((m) => m.preferred).length, 1);
  assert.deepEqual(
    parseConnectedModes('31\t36\tdisconnected\tVirtual-1\n  #0 1280x800 74.99 1 flags: ; type: preferred\n'),
    [],
  );
});

void test('CRTC ids come from the CRTCs section only', () => {
  const out =
    'Encoders:\nid\tcrtc\ttype\tpossible crtcs\tpossible clones\n36\t34\tnone\t0x00000001\t0x00000001\n\n' +
    'CRTCs:\nid\tfb\tpos\tsize\n34\t0\t(0,0)\t(0x0)\n   #0  nan 0 0 0 0 0 0 0 0 0 flags: ; type: \n  props:\n\t24 VRR_ENABLED:\n\n' +
    '35\t40\t(0,0)\t(800x600)\n\nPlanes:\nid\tcrtc\tfb\tCRTC x,y\tx,y\tgamma size\tpossible crtcs\n33\t0\t0\t0,0\t\t0,0\t0       \t0x00000001\n';
  assert.deepEqual(parseCrtcs(out), [34, 35]);
  assert.deepEqual(parseCrtcs('no such section'), []);
});

void test('flip rates from modetest -v', () => {
  assert.deepEqual(
    parseFlipRates('setting mode 800x600-60.00Hz on connectors 31, crtc 34\nfreq: 59.98Hz\nfreq: 60.01Hz\n'),
    [59.98, 60.01],
  );
  assert.deepEqual(parseFlipRates('nothing'), []);
});

void test('systemd time spans', () => {
  assert.equal(parseTimespan('10s'), 10);
  assert.equal(parseTimespan('1min 30s'), 90);
  assert.equal(parseTimespan('500ms'), 0.5);
  assert.equal(parseTimespan('15'), 15);
  assert.throws(() => parseTimespan('soon'));
});

void test("the project's unit: how the harness will start vdispld", () => {
  const u = parseUnit(readFileSync(`${REPO_DIR}/systemd/vdispld.service`, 'utf8'));
  assert.equal(u.type, 'notify');
  assert.deepEqual(u.execArgs.slice(0, 1), ['run']);
  assert.ok(u.timeoutStopSec > 0 && u.timeoutStartSec > 0);
});

void test('unit parsing reads [Service] only and applies systemd defaults', () => {
  const u = parseUnit(
    '[Unit]\nType=forking\n[Service]\nExecStart=-/usr/bin/x run --a b\nWatchdogSec=2s\nTimeoutSec=7\n',
  );
  assert.equal(u.type, 'simple');
  assert.deepEqual(u.execArgs, ['run', '--a', 'b']);
  assert.equal(u.watchdogSec, 2);
  assert.equal(u.timeoutStartSec, 7);
  assert.equal(u.timeoutStopSec, 7);
  assert.throws(() => parseUnit('[Service]\nType=notify\n'), /ExecStart/);
});
