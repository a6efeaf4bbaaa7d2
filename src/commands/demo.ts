// `vdispld demo`: the whole system in one command, with no Xen and no GPU. A simulated host
// (hypervisor and xenstored), the daemon on headless outputs exactly as `vdispld run` wires it,
// and simulated guests, each its own process running a xen-drm-front-like driver and animating
// its checkable pattern: odd guests with two connectors, even guests in be-alloc mode.
// Interactive: a live line per connector, `s` (or SIGUSR1) writes PNG snapshots, Ctrl-C stops.
// For scripts: --duration S --snapshots DIR --json prints one JSON document and exits 0 only if
// no guest saw an error or a timeout.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError, addOperationsOptions, prepareRun } from '../ops/run-operations.js';
import { isLogLevel, LOG_LEVELS } from '../util/log.js';
import type { DemoOpts } from './demo-session.js';
import { parseLayoutOption } from '../backend/layouts.js';
import { COMPOSE_OUTPUT, composePlan } from './demo-plan.js';

export { guestPlan, percentile } from './demo-plan.js';

/** The demo's control socket unless one is configured: where `vdispld status --socket` finds it. */
export const DEMO_CONTROL_SOCKET = join(process.env['XDG_RUNTIME_DIR'] ?? tmpdir(), 'vdispld-demo.sock');

function parseCount(s: string): number {
  if (!/^[1-9][0-9]?$/.test(s) || Number(s) > 16) throw new InvalidArgumentError('expected 1..16');
  return Number(s);
}

function parseSeconds(s: string): number {
  const n = Number(s);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(s) || !(n > 0) || n > 86400)
    throw new InvalidArgumentError('expected seconds, e.g. 10');
  return n;
}

export function register(program: Command): void {
  const cmd = program
    .command('demo')
    .description('run a simulated Xen host, the daemon on headless outputs, and animated guests (no Xen, no GPU)')
    .addOption(
      new Option('--guests <n>', 'guests to start: odd ones with two connectors, even ones in be-alloc mode')
        .argParser(parseCount)
        .default(2),
    )
    .addOption(
      new Option(
        '--duration <seconds>',
        'stop after this long with every guest showing (default: until Ctrl-C)',
      ).argParser(parseSeconds),
    )
    .option('--snapshots <dir>', 'where PNG snapshots go (written on `s`, SIGUSR1, and at the end of --duration)')
    .option('--json', 'print one JSON document at the end instead of live lines')
    .addOption(
      new Option(
        '--output <kind>',
        'where the guests are shown: headless outputs, or windows of your Wayland compositor',
      )
        .choices(['headless', 'wayland'])
        .default('headless'),
    )
    .option('--wayland-display <name>', 'Wayland socket for --output wayland (default $WAYLAND_DISPLAY)')
    .option(
      '--compose',
      `show every guest's connectors side by side on one headless output, ${COMPOSE_OUTPUT} (a layout; see vdispld run --layout)`,
    )
    .addOption(
      new Option('--log-level <level>', 'daemon log verbosity (stderr)')
        .choices(LOG_LEVELS as string[])
        .default('warn'),
    );
  addOperationsOptions(cmd, {
    controlSocket: DEMO_CONTROL_SOCKET,
    kms: false,
    examples: `
Examples:
  vdispld demo                                  # live lines; s: snapshots; Ctrl-C: stop
  vdispld demo --viewer 8080                    # then open http://127.0.0.1:8080/
  vdispld demo --output wayland                 # the guests as windows on your desktop
  vdispld demo --compose --viewer 8080          # every guest on one output, composed
  vdispld demo --guests 3 --duration 10 --snapshots out/ --json
  vdispld status --socket ${DEMO_CONTROL_SOCKET}   # from another terminal`,
  }).action(async (o: DemoOpts, c: Command) => {
    if (!isLogLevel(o.logLevel)) throw new Error('unreachable: commander checks choices');
    if (o.output === 'wayland' && o.waylandDisplay === undefined && !process.env['WAYLAND_DISPLAY']) {
      c.error(
        'error: --output wayland needs a Wayland compositor: set WAYLAND_DISPLAY (or give --wayland-display NAME)',
        { exitCode: 2, code: 'vdispld.wayland' },
      );
    }
    if (o.compose) {
      if (o.output !== 'headless')
        c.error('error: --compose needs --output headless', { exitCode: 2, code: 'vdispld.compose' });
      // As if typed: `--layout screen0=...`, so the layout is a command-line setting like any other.
      c.setOptionValueWithSource(
        'layout',
        [parseLayoutOption(`${COMPOSE_OUTPUT}=${composePlan(o.guests).layout}`)],
        'cli',
      );
    }
    let prepared;
    try {
      prepared = prepareRun(c, process.env, { controlSocket: DEMO_CONTROL_SOCKET, logLevel: 'warn' });
    } catch (err) {
      if (err instanceof ConfigError) c.error(`error: ${err.message}`, { exitCode: 2, code: 'vdispld.config' });
      throw err;
    }
    const { runDemo } = await import('./demo-session.js');
    process.exitCode = await runDemo(o, prepared.log, prepared.ops);
  });
}
