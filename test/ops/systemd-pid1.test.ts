// The unit under a real service manager: systemd boots as PID 1 in a container (pid1-container.ts),
// systemd/vdispld.service is installed as it is in the repository (plus a drop-in that only swaps
// Xen for the simulated host), and the daemon, bundled as `npm run build` bundles it, runs
// `vdispld run --platform sim` against a
// simulated host whose guests live in this test. Checked through systemctl and journalctl inside
// the container: Type=notify readiness, STATUS= lines, the watchdog kept fed (and enforced when the
// daemon stops answering), DOMID= entries in the real journald, and a clean stop.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundleDaemon } from '../../scripts/bundle.js';
import { SimHost } from '../../src/sim/host.js';
import { Pid1Container, pid1Unavailable } from './pid1-container.js';

const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const WATCHDOG_S = 3;
/** Where the container sees this checkout (read-only). */
const CHECKOUT = '/opt/vdispld';
/** Where it sees the bundled main.js, with links to the checkout's addon, dependencies and package.json. */
const BUILT = '/opt/vdispld-built';
const skip = pid1Unavailable();

async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined>,
  context: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${await context()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

void test(
  'vdispld.service under systemd as PID 1: READY, STATUS=, watchdog, journalctl DOMID=, clean stop',
  { skip, timeout: 300_000 },
  async (t) => {
    const t0 = Date.now();
    const files = mkdtempSync('/tmp/vdispld-pid1-files-');
    const built = mkdtempSync('/tmp/vdispld-pid1-built-');
    // Shared memory and sockets of the simulated host: /dev/shm stays writable under ProtectSystem=strict.
    const simDir = mkdtempSync('/dev/shm/vdispld-pid1-sim-');
    let host: SimHost | undefined;
    let box: Pid1Container | undefined;
    try {
      host = await SimHost.start({ dir: simDir });
      // The service runs what ships: the bundle (tsc's tree is not needed by `run`). Its links name
      // the checkout where the container sees it.
      await bundleDaemon({ root, out: built, sourcemap: false });
      for (const l of ['build', 'node_modules', 'package.json']) symlinkSync(`${CHECKOUT}/${l}`, join(built, l));
      const put = (name: string, text: string, mode = 0o644): string => {
        const p = join(files, name);
        writeFileSync(p, text);
        chmodSync(p, mode);
        return p;
      };
      // The checkout is bound read-only at a fixed path: the unit's PrivateTmp and ProtectHome would
      // hide it where CI clones it (under /tmp or /home).
      const wrapper = put(
        'vdispld',
        `#!/bin/sh\n# The bundled command line, as npm run build makes it.\nexec ${process.execPath} ${BUILT}/src/main.js "$@"\n`,
        0o755,
      );
      const envFile = put(
        'default',
        [
          `VDISPLD_PLATFORM=sim`,
          `VDISPLD_SIM_DIR=${simDir}`,
          `VDISPLD_XENSTORE=${host.xenstoredPath}`,
          'VDISPLD_OUTPUT=headless',
          '',
        ].join('\n'),
      );
      const dropIn = put(
        'sim.conf',
        [
          '[Unit]',
          '# No /proc/xen in the container: the simulated host stands in for Xen.',
          'ConditionPathExists=',
          '[Service]',
          `ReadWritePaths=${simDir}`,
          `WatchdogSec=${WATCHDOG_S}s`,
          '# A frozen process ignores SIGABRT; kill it soon after.',
          'TimeoutAbortSec=2s',
          '',
        ].join('\n'),
      );
      const target = put('vdispld-test.target', '[Unit]\nDescription=vdispld under test\nWants=vdispld.service\n');
      box = await Pid1Container.boot({
        name: `vdispld-pid1-${process.pid}`,
        unit: 'vdispld-test.target',
        files: {
          '/etc/systemd/system/vdispld.service': join(root, 'systemd/vdispld.service'),
          '/etc/systemd/system/vdispld.service.d/sim.conf': dropIn,
          '/etc/systemd/system/vdispld-test.target': target,
          '/etc/default/vdispld': envFile,
          '/usr/local/bin/vdispld': wrapper,
          [CHECKOUT]: root,
          [BUILT]: built,
        },
        shared: [simDir],
        bootTimeoutMs: 120_000,
      });
      const c = box;
      const tBooted = Date.now();
      const journal = async (...args: string[]): Promise<string> =>
        (await c.exec(['journalctl', '--no-pager', ...args])).stdout;
      const context = async (): Promise<string> =>
        `${JSON.stringify(await c.show('vdispld', ['ActiveState', 'SubState', 'Result', 'StatusText', 'NRestarts']))}\n${(await journal('-u', 'vdispld', '-n', '40', '-o', 'cat')).slice(-4000)}\n${c.console().slice(-2000)}`;
      const props = [
        'ActiveState',
        'SubState',
        'StatusText',
        'NRestarts',
        'MainPID',
        'WatchdogUSec',
        'Type',
        'Result',
        'ExecMainStatus',
      ];

      // Type=notify: "active" only after the daemon's READY=1 (it stays "activating" until then).
      const ready = await until(
        'vdispld.service active',
        120_000,
        async () => {
          const s = await c.show('vdispld', props);
          if (s['ActiveState'] === 'failed') assert.fail(`the service failed\n${await context()}`);
          return s['ActiveState'] === 'active' ? s : undefined;
        },
        context,
      );
      const tReady = Date.now();
      assert.equal(ready['Type'], 'notify');
      assert.equal(ready['SubState'], 'running');
      assert.equal(ready['WatchdogUSec'], `${WATCHDOG_S}s`);
      assert.match(ready['StatusText'] ?? '', /^0 vdispl device\(s\), 0 connected$/, 'STATUS= sent with READY=1');
      assert.match(await journal('-u', 'vdispld', '-o', 'cat'), /serving vdispl devices/);

      // The sandbox is on the running process, not only in the file.
      const status = (await c.exec(['cat', `/proc/${ready['MainPID']}/status`])).stdout;
      assert.match(status, /^NoNewPrivs:\s+1$/m, 'NoNewPrivileges=yes');
      assert.match(status, /^Seccomp:\s+2$/m, 'SystemCallFilter= (seccomp filter mode)');
      assert.match(status, /^CapBnd:\s+0000000000200000$/m, 'CapabilityBoundingSet=CAP_SYS_ADMIN only');
      const mounts = (await c.exec(['cat', `/proc/${ready['MainPID']}/mountinfo`])).stdout.split('\n');
      const rootMount = mounts.find((l) => l.split(' ')[4] === '/');
      assert.match(rootMount ?? '', /^\S+ \S+ \S+ \S+ \/ ro[, ]/, `ProtectSystem=strict: / read-only (${rootMount})`);
      const complaints = (await journal('-b', '-p', 'warning', '-o', 'cat'))
        .split('\n')
        .filter((l) => /vdispld/.test(l));
      if (complaints.length > 0) t.diagnostic(`systemd about the unit: ${complaints.join(' | ').slice(0, 1500)}`);

      // A guest: STATUS= follows it, and its log entries carry DOMID= in the journal.
      const guest = await host.createDomain({ vdispl: ['connectors=main:640x480'] });
      await until(
        'STATUS= with the connected guest',
        30_000,
        async () => {
          const s = await c.show('vdispld', ['StatusText']);
          return /^1 vdispl device\(s\), 1 connected$/.test(s['StatusText'] ?? '') ? true : undefined;
        },
        context,
      );
      const entries = await until(
        `journalctl -u vdispld DOMID=${guest.domid}`,
        30_000,
        async () => {
          const out = await journal('-u', 'vdispld', `DOMID=${guest.domid}`, '-o', 'json');
          const list = out
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>);
          return list.length > 0 ? list : undefined;
        },
        context,
      );
      for (const e of entries) {
        assert.equal(e['DOMID'], String(guest.domid));
        assert.equal(e['_SYSTEMD_UNIT'], 'vdispld.service');
        assert.match(String(e['PRIORITY']), /^[0-7]$/);
        assert.equal(typeof e['MESSAGE'], 'string');
      }
      assert.ok(
        entries.some((e) => e['DEVID'] === '0'),
        'DEVID= on device entries',
      );
      assert.equal(
        (await journal('-u', 'vdispld', 'DOMID=32000', '-o', 'json')).trim(),
        '',
        'the match filters, it does not list everything',
      );

      // The watchdog: alive well past WatchdogSec on the daemon's own keep-alives ...
      const pid = ready['MainPID']!;
      await new Promise((r) => setTimeout(r, 2.5 * WATCHDOG_S * 1000));
      const fed = await c.show('vdispld', props);
      assert.deepEqual(
        [fed['ActiveState'], fed['MainPID'], fed['NRestarts']],
        ['active', pid, '0'],
        'no watchdog timeout while the loop runs',
      );
      // ... and enforced when the daemon stops answering: killed and restarted (Restart=on-failure).
      await c.exec(['kill', '-STOP', pid]);
      const restarted = await until(
        'the watchdog restart',
        60_000,
        async () => {
          const s = await c.show('vdispld', props);
          return s['NRestarts'] === '1' && s['ActiveState'] === 'active' && s['MainPID'] !== pid ? s : undefined;
        },
        context,
      );
      const tRestarted = Date.now();
      assert.match(await journal('-u', 'vdispld', '-o', 'cat'), /vdispld\.service: Watchdog timeout/);
      assert.match(
        restarted['StatusText'] ?? '',
        /vdispl device\(s\)/,
        'the new process reported READY with STATUS= again',
      );

      // A clean stop: SIGTERM, STOPPING=1, exit 0.
      const stop = await c.exec(['systemctl', 'stop', 'vdispld'], 60_000);
      assert.equal(stop.code, 0, stop.stderr);
      const after = await c.show('vdispld', props);
      assert.deepEqual(
        [after['ActiveState'], after['Result'], after['ExecMainStatus']],
        ['inactive', 'success', '0'],
        await context(),
      );
      t.diagnostic(
        `boot ${((tBooted - t0) / 1000).toFixed(1)} s, READY ${((tReady - tBooted) / 1000).toFixed(1)} s after boot, ` +
          `watchdog restart ${((tRestarted - tReady) / 1000).toFixed(1)} s after READY (incl. guest and waits), total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      await host.destroyDomain(guest.domid).catch(() => undefined);
    } finally {
      await box?.stop();
      await host?.close();
      rmSync(files, { recursive: true, force: true });
      rmSync(built, { recursive: true, force: true });
      rmSync(simDir, { recursive: true, force: true });
    }
  },
);
