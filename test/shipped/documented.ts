// Every command line of README.md and docs/OPERATIONS.md (found in the documents themselves by
// documented-commands.ts), and how it is tested. A line either runs here, in a scenario of
// test/shipped/shipped-runner.ts against the bundle and the installed package, where the scenario
// must run it as written (placeholders such as DOMID/DEV/CONN or <version> filled in, /tmp paths
// moved into the test's directory, an inline span such as `kill -USR1` completed: checked against
// the lines the scenario ran, documented-commands.ts commandPattern); or is a development command
// whose script or folder is checked here and that runs elsewhere; or cannot run on this machine at
// all (it needs systemd as PID 1, real Xen or its toolstack, a second host, an hour): then the
// reason and the test that covers it instead: this table is the one place such exemptions are
// made. A documented line missing from this table, or an entry no document shows any more, fails
// the test.

export type HowTested =
  /** Runs in this scenario of shipped-runner.ts (against the bundle and the installed package). */
  | { readonly scenario: string }
  /** `npm run NAME ...`: the script exists; it runs where `where` says. */
  | { readonly script: string; readonly where: string }
  /** `npm test -- PATH`: the path holds tests; `npm test` (this suite) runs them. */
  | { readonly testPath: string }
  /** Cannot run here; `why`, and the test that covers it instead. */
  | { readonly elsewhere: string };

const E2E = 'real Xen under QEMU: npm run e2e (the CI set in .ci/run)';
const ARM64 = 'the Arm64 Xen lab under QEMU: npm run e2e -- --arch arm64 (docs/E2E-ARM64.md; its CI set in .ci/run)';
const PID1 =
  'needs systemd as PID 1: test/ops/systemd-pid1.test.ts boots it in a container with the unit as shipped (enable, start, READY, journalctl -u vdispld DOMID=, stop)';
const JOURNAL =
  'needs the unit under systemd: the fields and matches are tested against a private journald in test/ops/journald.test.ts, the unit in test/ops/systemd-pid1.test.ts';

export const DOCUMENTED: Readonly<Record<string, HowTested>> = {
  // --- set up, the demo ----------------------------------------------------------------------
  'bash scripts/setup.sh && npm start': {
    elsewhere:
      'installs Debian packages as root: .ci/run runs scripts/setup.sh on a fresh machine; `npm start` runs here (scenario npm-start)',
  },
  'bash scripts/setup.sh && npm test': {
    elsewhere: '.ci/run runs exactly this on a fresh machine; this test is part of `npm test`',
  },
  'npm ci': { elsewhere: 'run by scripts/setup.sh (.ci/run, fresh machine)' },
  'npm start': { scenario: 'npm-start' },
  'vdispld demo': { scenario: 'demo-live' },
  'vdispld demo --viewer 8080': { scenario: 'demo-live' },
  'vdispld demo --compose --viewer 8080': { scenario: 'demo-compose' },
  'kill -USR1': { scenario: 'demo-live' },
  'node dist/src/main.js demo --guests 2 --duration 10 --snapshots out/ --json': { scenario: 'demo-json' },
  // --- the daemon and its operator commands ----------------------------------------------------
  'vdispld run': { scenario: 'daemon' },
  'vdispld run --help': { scenario: 'help' },
  'vdispld run --input-device auto': {
    elsewhere:
      "reads dom0's evdev devices under /dev/input, which a test machine may not have: the input router and vkbd serving are tested in test/input and test/kbdif",
  },
  'vdispld status': { scenario: 'daemon' },
  'vdispld status [--json]': { scenario: 'daemon' },
  'vdispld status --json': { scenario: 'daemon' },
  'vdispld snapshot': { scenario: 'daemon' },
  'vdispld snapshot DOMID/DEV/CONN -o file.png': { scenario: 'daemon' },
  'vdispld snapshot DOMID/DEV/CONN -o file.png [--json]': { scenario: 'daemon' },
  'vdispld selfcheck [--json]': { scenario: 'selfcheck' },
  'vdispld outputs': { scenario: 'outputs' },
  'vdispld sim xenstored --socket /tmp/xs.sock [--introduce N]': { scenario: 'sim-xenstored' },
  'vdispld sim xenstored --socket PATH': { scenario: 'sim-xenstored' },
  'XENSTORED_PATH=/tmp/xs.sock xenstore-ls': { scenario: 'sim-xenstored' },
  'xenstore-write /local/domain/0/vdispld/connectors/vm1/id0 HDMI-A-1': { scenario: 'daemon' },
  'xenstore-write /local/domain/0/vdispld/quotas/pages 20000': { scenario: 'daemon' },
  'xenstore-rm /local/domain/0/vdispld/connectors/vm1/id0': { scenario: 'daemon' },
  // --- install and the unit ------------------------------------------------------------------
  'npm pack && npm install -g ./vdispld-*.tgz': { scenario: 'pack-install' },
  'npm pack': { scenario: 'pack-install' },
  'npm install -g ./vdispld-<version>.tgz': { scenario: 'pack-install' },
  'npm install -g': { scenario: 'pack-install' },
  'install -m 0644 systemd/vdispld.service /etc/systemd/system/': { scenario: 'pack-install' },
  'systemd-analyze verify': { scenario: 'pack-install' },
  'install -m 0644 systemd/vdispld.service /etc/systemd/system/ && systemctl enable --now vdispld': {
    elsewhere: `the install runs here (pack-install); systemctl ${PID1}`,
  },
  'systemctl daemon-reload && systemctl enable --now vdispld': { elsewhere: PID1 },
  'systemctl stop': { elsewhere: PID1 },
  'systemd-analyze security': { elsewhere: 'test/ops/systemd-unit.test.ts checks the exposure the README states' },
  'journalctl -u vdispld DOMID=<n>': { elsewhere: PID1 },
  'journalctl -u vdispld DOMID=5': { elsewhere: JOURNAL },
  'journalctl -u vdispld PRIORITY=3': { elsewhere: JOURNAL },
  'journalctl -u vdispld -o verbose DOMID=5 DEVID=0': { elsewhere: JOURNAL },
  'vdispld demo --output wayland': {
    elsewhere:
      'test/wayland/demo.test.ts runs it against a private Weston (and without WAYLAND_DISPLAY: one line, exit 2)',
  },
  'ssh -L 8080:127.0.0.1:8080 host': {
    elsewhere: 'needs a second host; the viewer binds loopback and checks Host and Origin in test/ops/viewer.test.ts',
  },
  // --- development -----------------------------------------------------------------------------
  'npm test': { testPath: 'test' },
  'npm test -- test/hostile': { testPath: 'test/hostile' },
  'npm test -- test/displif': { testPath: 'test/displif' },
  'npm test -- test/native': { testPath: 'test/native' },
  'npm test -- test/kms': { testPath: 'test/kms' },
  'npm test -- test/e2e/unit': { testPath: 'test/e2e/unit' },
  'npm test -- test/ops/systemd-pid1.test.ts': { testPath: 'test/ops/systemd-pid1.test.ts' },
  'npm test -- test/shipped': { testPath: 'test/shipped' },
  'npm run build': { script: 'build', where: 'here: `npm pack` runs it as prepare (scenario pack-install)' },
  'npm run lint': { script: 'lint', where: 'by developers before a merge (ESLint and tsc over the tree)' },
  'npm run bench': {
    script: 'bench',
    where: 'by hand: timings are measured there, never in a unit test (docs/PERFORMANCE.md)',
  },
  'npm run fuzz': { script: 'fuzz', where: 'by hand for minutes; `npm test -- test/hostile` replays its corpus' },
  'npm run hostile:requests': { script: 'hostile:requests', where: 'its --short size in `npm test -- test/hostile`' },
  'npm run hostile:ring': { script: 'hostile:ring', where: 'its --short size in `npm test -- test/hostile`' },
  'npm run hostile:xenstore': { script: 'hostile:xenstore', where: 'its --short size in `npm test -- test/hostile`' },
  'npm run hostile:faults': { script: 'hostile:faults', where: 'its --short size in `npm test -- test/hostile`' },
  'npm run hostile:soak': {
    script: 'hostile:soak',
    where: 'an hour by default; its --short size in `npm test -- test/hostile`',
  },
  'node --import tsx test/hostile/probe/profile-summary.ts DIR/*.cpuprofile': {
    elsewhere: 'reads the profile a campaign run with --probe DIR wrote; by hand after such a run',
  },
  'npm run e2e': { script: 'e2e', where: E2E },
  'npm run e2e -- 1 2 6': { script: 'e2e', where: E2E },
  'npm run e2e -- --build-only': { script: 'e2e', where: E2E },
  'npm run e2e -- --ci': { script: 'e2e', where: E2E },
  'npm run e2e -- --node-options=--cpu-prof 3': { script: 'e2e', where: E2E },
  'npm run e2e -- --arch arm64 --build-only': { script: 'e2e', where: ARM64 },
  'npm run e2e -- --arch arm64 a1 a2': { script: 'e2e', where: ARM64 },
  'npm run e2e -- --arch arm64 --ci': { script: 'e2e', where: ARM64 },
  // --- inside the e2e machine --------------------------------------------------------------------
  'xl reboot': { elsewhere: `Xen's toolstack in dom0: e2e scenario 5 (${E2E})` },
  'xl destroy': { elsewhere: `Xen's toolstack in dom0: e2e scenario 6 (${E2E})` },
  'xl vdispl-detach': { elsewhere: `Xen's toolstack in dom0: e2e scenario 6 (${E2E})` },
  'xl debug-keys g': {
    elsewhere: `Xen's hypervisor console in dom0 (the grant table dump): e2e scenario 11 reads it (${E2E})`,
  },
  'xl dmesg': { elsewhere: `Xen's console in dom0: collected by every e2e scenario (${E2E})` },
  'modetest -v': { elsewhere: `libdrm's tool on dom0's bochs-drm: e2e scenario 3 (${E2E})` },
};
