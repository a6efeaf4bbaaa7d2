// `npm run e2e [-- options] [scenario...]`: builds (or reuses) the image, then boots a fresh Xen
// machine per scenario and reports pass / fail / blocked with timings. See the README's "End-to-end
// on real Xen" section.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureArm64Lab, killBuilds } from './lib/arm64-image.js';
import { daemonAvailable } from './lib/daemon.js';
import { ensureHostTools, ensureImage, hostNodeDir, REPO_DIR, type Image } from './lib/image.js';
import type { Arm64Lab } from './lib/arm64-image.js';
import { Machine } from './lib/machine.js';
import { runScenario, type Environment, type ScenarioResult } from './lib/scenario.js';
import { ARM64_SCENARIOS, SCENARIOS } from './scenarios/index.js';

/**
 * What CI runs: the protocol end to end (connect, draw on a real KMS screen, teardown under the 1 s
 * budget) in about 10 minutes under load; the rest depends on emulation speed (3), is slow (4, 5), or
 * proves a guest-kernel limit (7). See the README's e2e section for the figures.
 */
const CI_SET = ['1', '2', '6'];

/**
 * What CI runs in the Arm64 lab, on the lab kernel built from source on CI's fresh machine: zero-copy
 * with backend-allocated buffers (a1) and with the guest's own buffers (a2, EXP_FROM_REFS, PRIME,
 * the commit), and the copy fallback where the exporter is the stock kernel's (a6).
 * docs/E2E-ARM64.md has the times.
 */
const ARM64_CI_SET = ['a1', 'a2', 'a6'];

const HELP = `usage: npm run e2e -- [options] [scenario ...]
  scenario       number or id (e.g. 1 2 6, or 2-draw; a1 in the Arm64 lab); default: all
  --arch ARCH    x86 (default: Xen x86, PV dom0, bochs-drm) or arm64 (Xen Arm64, the lab kernel, vkms)
  --list         list the scenarios (of --arch)
  --ci           the set CI runs: x86 ${CI_SET.join(' ')} (connect, draw, teardown); arm64 ${ARM64_CI_SET.join(' ')}
  --build-only   build or check the cached image (arm64: kernel, image, node, addon) and stop
  --rebuild      rebuild the image even if the cache has it
  --no-build     do not run tsc for dist/ first
  --echo         copy the machine's serial console to stdout
  --flip-min-hz  the flip-rate floor of scenario 3 (default 55; a lower value is printed with the results)
  --out DIR      results folder (default test-artifacts/e2e/<time>)
  --daemon-args="ARGS"  extra arguments for every \`vdispld run\` (debugging, e.g. "--log-level debug")
  --node-options="OPTS" node's own flags for the daemon in dom0 (e.g. "--cpu-prof": profiles land in the
                 scenario folder as *.cpuprofile when the daemon stops)
env: VDISPLD_E2E_CACHE (default .e2e-cache/), VDISPLD_E2E_KVER, VDISPLD_E2E_MIRROR`;

const log = (s: string): void => console.log(`e2e: ${s}`);

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      arch: { type: 'string' },
      list: { type: 'boolean' },
      ci: { type: 'boolean' },
      'build-only': { type: 'boolean' },
      rebuild: { type: 'boolean' },
      'no-build': { type: 'boolean' },
      echo: { type: 'boolean' },
      'flip-min-hz': { type: 'string' },
      out: { type: 'string' },
      'daemon-args': { type: 'string' },
      'node-options': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const arch = values.arch ?? 'x86';
  if (arch !== 'x86' && arch !== 'arm64') throw new Error(`--arch: x86 or arm64, not ${arch}`);
  const all = arch === 'arm64' ? ARM64_SCENARIOS : SCENARIOS;
  if (values.list) {
    const w = Math.max(...all.map((s) => s.id.length)) + 1;
    for (const s of all) console.log(`${s.id.padEnd(w)} ${s.title}`);
    return 0;
  }
  if (values.ci && positionals.length)
    throw new Error('--ci is a set of scenarios of its own: give either --ci or scenarios');
  const names = values.ci ? (arch === 'arm64' ? ARM64_CI_SET : CI_SET) : positionals;
  const chosen = names.length
    ? names.map((p) => {
        const s = all.find((x) => x.id === p || x.id.split('-')[0] === p);
        if (!s) throw new Error(`no scenario ${p}; --list shows them`);
        return s;
      })
    : all;
  const flipMinHz = Number(values['flip-min-hz'] ?? 55);
  if (!(flipMinHz > 0)) throw new Error('--flip-min-hz must be a positive number');

  let image: Image | Arm64Lab;
  let nodeDir: string;
  let buildSeconds: Record<string, number>;
  if (arch === 'arm64') {
    const { lab, steps } = await ensureArm64Lab({ rebuild: values.rebuild ?? false, log });
    log(
      `arm64 lab: ${steps.map((st) => `${st.step} ${st.built ? `built in ${st.seconds} s` : 'from cache'}`).join(', ')}`,
    );
    log(`arm64 lab in ${lab.dir}: ${lab.manifest.trim().split('\n').join('; ')}`);
    image = lab;
    nodeDir = lab.nodeDir;
    buildSeconds = Object.fromEntries(steps.map((st) => [st.step, st.seconds]));
  } else {
    ensureHostTools(log);
    const build = await ensureImage({ rebuild: values.rebuild ?? false, log });
    log(
      `image ${build.image.key} ${build.built ? `built in ${build.seconds.toFixed(0)} s` : 'from cache'} (${build.image.dir})`,
    );
    log(build.image.manifest.trim().split('\n').join('; '));
    image = build.image;
    nodeDir = hostNodeDir();
    buildSeconds = { image: build.seconds };
  }
  if (values['build-only']) return 0;

  if (!values['no-build']) {
    // dom0 runs the working tree's dist/, built as `npm run build` builds it (tsc, then the bundled
    // command line): what a user installs. tsc still emits when other parts have type errors, and
    // its unbundled main.js runs too, so a failed build is a warning.
    const t = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_DIR, encoding: 'utf8' });
    if (t.status !== 0)
      log(
        `warning: npm run build failed (dist/ may be stale or unbundled):\n${`${t.stdout ?? ''}${t.stderr ?? ''}`.split('\n').slice(0, 8).join('\n')}`,
      );
  }
  if (!existsSync(join(REPO_DIR, 'build/Release/vdispl_native.node')))
    throw new Error('native addon missing: build/Release/vdispl_native.node (npm ci)');
  const daemon = daemonAvailable();
  log(
    daemon.ok
      ? 'daemon: `vdispld run` is in the build'
      : `daemon: not available (${daemon.why}); scenarios that need it report blocked`,
  );
  if (flipMinHz !== 55) log(`NOTE: flip-rate floor lowered to ${flipMinHz} Hz by --flip-min-hz`);

  const daemonArgs = (values['daemon-args'] ?? '').split(/\s+/).filter(Boolean);
  if (daemonArgs.length) log(`NOTE: every vdispld run gets extra arguments: ${daemonArgs.join(' ')}`);
  const nodeOptions = values['node-options'] ?? '';
  if (nodeOptions) log(`NOTE: the daemon runs as node ${nodeOptions} main.js`);
  const env: Environment = { image, nodeDir, daemon, daemonArgs, nodeOptions, echo: values.echo ?? false, flipMinHz };
  const root = join(REPO_DIR, 'test-artifacts', 'e2e');
  const runsDir = values.out ?? join(root, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runsDir, { recursive: true });
  if (!values.out) {
    // keep the last few runs only: each holds screendumps and logs
    const old = readdirSync(root).sort().slice(0, -5);
    for (const d of old) rmSync(join(root, d), { recursive: true, force: true });
  }

  const results: ScenarioResult[] = [];
  for (const s of chosen) {
    log(`scenario ${s.id}: ${s.title}`);
    const r = await runScenario(s, env, runsDir);
    results.push(r);
    const marks = Object.entries(r.marks)
      .map(([k, v]) => `${k}@${v}s`)
      .join(' ');
    log(`scenario ${s.id}: ${r.outcome.toUpperCase()} in ${r.seconds} s${r.reason ? ` — ${r.reason}` : ''}`);
    if (marks) log(`  marks: ${marks}`);
    if (r.outcome !== 'pass') log(`  logs, console, screenshots: ${r.dir}`);
  }
  writeFileSync(
    join(runsDir, 'summary.json'),
    JSON.stringify({ arch, image: image.key, buildSeconds, flipMinHz, results }, null, 1) + '\n',
  );
  const count = (o: string): number => results.filter((r) => r.outcome === o).length;
  log(`results in ${runsDir}`);
  for (const r of results) console.log(`  ${r.outcome.padEnd(7)} ${String(r.seconds).padStart(6)} s  ${r.id}`);
  console.log(`e2e: ${count('pass')} passed, ${count('fail')} failed, ${count('blocked')} skipped`);
  return count('fail') > 0 ? 1 : count('blocked') > 0 ? 2 : 0;
}

function killAll(): void {
  killBuilds();
  for (const m of Machine.live) m.kill();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}
process.once('exit', killAll);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`e2e: ${e instanceof Error ? e.message : String(e)}`);
    killAll();
    process.exitCode = 1;
  },
);
