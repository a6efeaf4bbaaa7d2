import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { scanKernelLogs, type CrashSource } from '../lib/crash-scan.js';

const crashLines = (sources: CrashSource[], expected: RegExp[] = []): string[] =>
  scanKernelLogs(sources, expected).crashes;
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const CLEAN_DOM0 = [
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]',
  '[    3.120000] xen:xen_evtchn: Event-channel device installed',
  '[    4.001000] [drm] Initialized vkms 1.0.0 20180514 for vkms on minor 0',
  '[   40.500000] vdispld: WARNING: words in the middle of a line are not a kernel warning',
].join('\n');

void test('a clean dom0 log and a quiet guest console report nothing', () => {
  assert.deepEqual(
    crashLines([
      { name: 'dom0 dmesg', text: CLEAN_DOM0 },
      { name: 'guest-a console', text: 'E2E-GUEST: init at uptime 1.9s\nE2E-GUEST: agent ready\n' },
    ]),
    [],
  );
});

void test("a kernel WARN in a guest's console is reported with its source, once, not its echo by the agent", () => {
  const lines = crashLines([{ name: 'guest-fe console', text: fixture('guest-console-warn.log') }]);
  assert.deepEqual(lines, [
    'guest-fe console: [   31.777019] WARNING: CPU: 0 PID: 63 at lib/refcount.c:25 refcount_warn_saturate+0x9c/0x150',
  ]);
});

void test("a guest's dmesg: WARN at the start of a message, with and without a time stamp; CRLF consoles", () => {
  const dmesg = [
    '[    5.000000] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_gem.c:1000 drm_gem_object_release+0x40/0x50',
    'WARNING: possible circular locking dependency detected\r',
    '[    6.000000] ok',
  ].join('\n');
  assert.deepEqual(crashLines([{ name: 'guest g dmesg', text: dmesg }]), [
    'guest g dmesg: [    5.000000] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_gem.c:1000 drm_gem_object_release+0x40/0x50',
    'guest g dmesg: WARNING: possible circular locking dependency detected',
  ]);
});

void test('faults, BUGs, oopses and panics in dom0 are reported', () => {
  const dmesg = [
    '[   12.0] node[301]: segfault at 8 ip 0000ffff8a1b2c3d sp 0000ffffd0e0f000 error 4',
    '[   13.0] traps: modetest[77] general protection fault ip:4010 sp:7ffd error:0',
    '[   14.0] BUG: kernel NULL pointer dereference, address: 0000000000000008',
    '[   15.0] Unable to handle kernel paging request at virtual address dead000000000100',
    '[   15.1] Internal error: Oops: 96000004 [#1] SMP',
    '[   16.0] Kernel panic - not syncing: Fatal exception',
  ].join('\n');
  assert.equal(crashLines([{ name: 'dom0 dmesg', text: dmesg }]).length, 6);
});

void test('lines a scenario provoked on purpose and asserted itself are left out', () => {
  const text = '[ 9.0] BUG: Bad rss-counter state mm:000000 type:MM_FILEPAGES val:-1\n[ 9.1] BUG: soft lockup - CPU#0';
  assert.deepEqual(crashLines([{ name: 'dom0 dmesg', text }], [/Bad rss-counter state/]), [
    'dom0 dmesg: [ 9.1] BUG: soft lockup - CPU#0',
  ]);
});

void test("xen-drm-front's fini refcount WARNs (a known 6.1 guest bug) are counted apart by their call trace", () => {
  const fini = fixture('guest-dmesg-xen-drm-fini.log');
  const scan = scanKernelLogs([{ name: 'guest g dmesg', text: fini }]);
  assert.deepEqual(scan.crashes, []);
  assert.deepEqual(scan.known, [
    'guest g dmesg: WARNING: CPU: 0 PID: 27 at lib/refcount.c:25 refcount_warn_saturate+0xc0/0x140',
    'guest g dmesg: WARNING: CPU: 0 PID: 27 at lib/refcount.c:28 refcount_warn_saturate+0xec/0x140',
  ]);
  // the same warning from anywhere else is a crash: only its own report decides
  const other = fini.replaceAll('xen_drm_drv_fini', 'some_other_fini');
  assert.equal(scanKernelLogs([{ name: 'g', text: other }]).crashes.length, 2);
  // and a report after the known one is judged on its own
  const next = `${fini}\n------------[ cut here ]------------\nWARNING: CPU: 0 PID: 9 at mm/slub.c:1 f+0x0/0x4\nCall trace:\n f+0x0/0x4\n---[ end trace 0000000000000000 ]---\n`;
  assert.deepEqual(scanKernelLogs([{ name: 'g', text: next }]).crashes, [
    'g: WARNING: CPU: 0 PID: 9 at mm/slub.c:1 f+0x0/0x4',
  ]);
});
