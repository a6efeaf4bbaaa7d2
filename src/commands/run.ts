// `vdispld run`: the daemon. Serves every vdispl device the toolstack gives this domain until
// SIGTERM or SIGINT, then releases everything (guests see their backend close) and exits 0.
// Under systemd (Type=notify) it reports READY=1 once it watches XenStore, and keeps the watchdog
// fed from the event loop, so a stalled loop gets the service restarted.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseConnectorMapping } from '../backend/output-map.js';
import { parseLayoutOption } from '../backend/layouts.js';
import type { Layout } from '../drm/compose/layout.js';
import { DEFAULT_QUOTAS, QUOTA_OPTION_KEYS, parseQuotas, type Quotas } from '../backend/quotas.js';
import { Daemon, DaemonGround, StartupError, type DaemonOptions } from '../daemon.js';
import { cardArgument } from './card-argument.js';
import { parseHeadlessSpec, type HeadlessOutputSpec } from '../drm/headless/headless-backend.js';
import { sdNotifier } from '../native/sd-notify.js';
import { ConfigError, addOperationsOptions, prepareRun, type RunOperations } from '../ops/run-operations.js';
import { packageVersion } from '../ops/version.js';
import { parseDomId } from '../util/ids.js';
import { isLogLevel, LOG_LEVELS, type Logger } from '../util/log.js';
import { DEFAULT_SWITCH_KEYS, parseSwitchKeys } from '../input/evdev-source.js';

interface RunOpts {
  xenstore?: string;
  platform: 'linux' | 'sim';
  simDir?: string;
  output: 'auto' | 'kms' | 'headless' | 'wayland';
  waylandDisplay?: string;
  card?: string;
  headless: HeadlessOutputSpec[];
  connector: Array<[string, string]>;
  layout: Array<[string, Layout]>;
  unmapped: 'headless' | 'refuse';
  quota: Quotas;
  domid?: number;
  logLevel: string;
  inputDevice?: string[];
  inputSwitch?: number[];
  inputFocus: 'switch' | 'pointer';
}

const collect =
  <T>(parse: (s: string) => T) =>
  (value: string, prev: T[]): T[] => [...prev, parse(value)];

function parseDomid(s: string): number {
  if (parseDomId(s) === undefined) throw new Error(`--domid ${JSON.stringify(s)}: expected a domain id 0..32751`);
  return Number(s);
}

/** Option parsers throw plain Errors; commander turns an InvalidArgumentError into one usage line and exit 2. */
export function wrap<T>(fn: (s: string, prev: T) => T): (s: string, prev: T) => T {
  return (s, prev) => {
    try {
      return fn(s, prev);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export function daemonOptions(o: RunOpts): DaemonOptions {
  return {
    xenstore: o.xenstore,
    platform: o.platform,
    simDir: o.simDir,
    output: o.output,
    card: o.card,
    waylandDisplay: o.waylandDisplay,
    headlessOutputs: o.headless,
    connectorMap: new Map(o.connector),
    layouts: new Map(o.layout),
    unmapped: o.unmapped,
    quotas: o.quota,
    domid: o.domid,
    ...(o.inputDevice && o.inputDevice.length > 0
      ? { inputDevices: o.inputDevice.includes('auto') ? ('auto' as const) : o.inputDevice }
      : {}),
    ...(o.inputSwitch ? { inputSwitch: o.inputSwitch } : {}),
    ...(o.inputFocus === 'pointer' ? { inputFocus: 'pointer' as const } : {}),
  };
}

function parseInputDevice(s: string): string {
  if (
    s !== 'auto' &&
    !/^\/dev\/input\/[A-Za-z0-9_.:-]+$/.test(s) &&
    !/^\/dev\/input\/by-(id|path)\/[A-Za-z0-9_.:+-]+$/.test(s)
  ) {
    throw new Error(`--input-device ${JSON.stringify(s)}: expected auto or a path under /dev/input`);
  }
  return s;
}

function defaultQuotasText(): string {
  const q = DEFAULT_QUOTAS;
  return `buffers=${q.maxBuffers},framebuffers=${q.maxFramebuffers},pages=${q.maxMappedPages},buffer-pages=${q.maxBufferPages},pending-flips=${q.maxPendingFlips},pages-per-second=${q.bufferPagesPerSecond},dom0-pages=${q.dom0MappedPages},dom0-alloc-pages=${q.dom0AllocatedPages},dom0-fds=${q.dom0Fds},dom0-guests=${q.dom0Guests}`;
}

/** The options `run` and `demo` share. */
export function addDaemonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(LOG_LEVELS as string[]).default('info'))
    .addOption(
      new Option('--output <kind>', 'where guest connectors are shown')
        .choices(['auto', 'kms', 'headless', 'wayland'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--wayland-display <name>',
        'Wayland socket for --output wayland and wayland[:NAME] mappings (default $WAYLAND_DISPLAY)',
      ),
    )
    .addOption(
      new Option('--card <path>', 'DRM card for --output kms (default: the first with connectors)').argParser(
        cardArgument(false),
      ),
    )
    .addOption(
      new Option('--headless <NAME=WxH[@HZ]>', 'a named headless output (repeatable)')
        .argParser(wrap(collect(parseHeadlessSpec)))
        .default([], 'none'),
    )
    .addOption(
      new Option(
        '--connector <GUEST/UNIQUE_ID=OUTPUT>',
        "show this guest's connector with this unique-id on OUTPUT, or in a window: wayland[:WL_OUTPUT]; GUEST: domain name, UUID or domid (repeatable)",
      )
        .argParser(wrap(collect(parseConnectorMapping)))
        .default([], 'none'),
    )
    .addOption(
      new Option(
        '--layout <OUTPUT=GUEST/UNIQUE_ID@WxH+X+Y[:scaled],...>',
        'compose these guest connectors on OUTPUT, each in its rectangle (1:1, or scaled to it), later ones on top (repeatable)',
      )
        .argParser(wrap(collect(parseLayoutOption)))
        .default([], 'none'),
    )
    .addOption(
      new Option('--unmapped <policy>', 'connectors with no mapping, or whose output is taken')
        .choices(['headless', 'refuse'])
        .default('headless'),
    )
    .addOption(
      new Option(
        '--quota <KEY=N,...>',
        `per-device limits and the dom0-wide budget (dom0-*) (keys: ${QUOTA_OPTION_KEYS.join(', ')})`,
      )
        .argParser(wrap((s: string, prev: Quotas) => parseQuotas(s, prev)))
        .default(DEFAULT_QUOTAS, defaultQuotasText()),
    )
    .addOption(
      new Option(
        '--input-device <auto|PATH>',
        'hand this dom0 input device (or every one: auto) to the guest with focus (repeatable; default none)',
      )
        .argParser(wrap(collect(parseInputDevice)))
        .default([], 'none'),
    )
    .addOption(
      new Option('--input-switch <KEYS>', 'key combination that moves input focus to the next guest, then back to dom0')
        .argParser(wrap((s: string) => parseSwitchKeys(s)))
        .default(parseSwitchKeys(DEFAULT_SWITCH_KEYS), DEFAULT_SWITCH_KEYS),
    )
    .addOption(
      new Option(
        '--input-focus <MODE>',
        'switch: focus moves with the switch keys only; pointer: also to the guest whose screen the pointer is on (outputs left to right in --connector order)',
      )
        .choices(['switch', 'pointer'])
        .default('switch'),
    );
}

/** The operations side (config, metrics, control socket, viewer), and which output options were typed. */
export interface ServeOperations {
  readonly ops: RunOperations;
  readonly typed: { readonly output: boolean; readonly card: boolean };
}

/** Runs `daemon` until SIGTERM/SIGINT; resolves with the exit code. */
export async function serve(opts: DaemonOptions, log: Logger, operations?: ServeOperations): Promise<number> {
  const sd = sdNotifier(process.env, { onError: (err) => log.warn({ err }, 'sd_notify failed') });
  let daemon: Daemon;
  // XenStore and the platform do not depend on the settings the operations side reads, so they
  // are opened meanwhile (both are waits on other processes). Until Daemon.start takes the ground,
  // it is this function's to close.
  const ground = DaemonGround.open(opts, log);
  // Its failure is reported when Daemon.start awaits it, not as an unhandled rejection meanwhile.
  ground.catch(() => {});
  let groundTaken = false;
  try {
    const withOps = operations ? await operations.ops.beforeStart(opts, operations.typed, packageVersion()) : opts;
    groundTaken = true;
    daemon = await Daemon.start(withOps, log, ground);
    operations?.ops.afterStart(daemon);
  } catch (err) {
    if (!groundTaken)
      await ground.then(
        (g) => g.close(),
        () => {},
      );
    log.fatal(
      err instanceof StartupError ? err.message : { err },
      err instanceof StartupError ? undefined : 'startup failed',
    );
    await operations?.ops.stop();
    return 1;
  }
  const status = (): string => {
    const r = daemon.backend.resources();
    return `${r.devices} vdispl device(s), ${r.connected} connected`;
  };
  // Listening before READY=1: the manager may stop us the moment it reads it, and a SIGTERM with
  // no listener yet would end the process without the clean stop (seen in a test on a busy host).
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  sd.ready(status());
  const wd = sd.watchdogIntervalMs();
  const watchdog = wd !== undefined ? setInterval(() => sd.watchdog(), wd) : undefined;
  const statusTimer = sd.enabled ? setInterval(() => sd.status(status()), 5000) : undefined;
  const signal = await stopSignal;
  log.info(`${signal}: stopping`);
  sd.stopping();
  if (watchdog) clearInterval(watchdog);
  if (statusTimer) clearInterval(statusTimer);
  await daemon.stop();
  await operations?.ops.stop();
  return 0;
}

export function register(program: Command): void {
  program.addHelpText(
    'after',
    `
Without a command, vdispld runs \`vdispld run\` (the daemon).

Examples:
  vdispld                              # the daemon, as systemd/vdispld.service starts it
  vdispld demo --viewer 8080           # everything simulated; watch at http://127.0.0.1:8080/
  vdispld outputs                      # the DRM connectors guests can be shown on
  vdispld status                       # what the running daemon serves`,
  );
  const cmd = program
    .command('run', { isDefault: true })
    .description('serve the vdispl devices of this domain (the daemon)')
    .option(
      '--xenstore <socket>',
      'XenStore socket (default: $XENSTORED_PATH, /run/xenstored/socket, then /dev/xen/xenbus)',
    )
    .addOption(
      new Option('--platform <kind>', 'Xen interfaces: the real /dev/xen, or a simulated host')
        .choices(['linux', 'sim'])
        .default('linux'),
    )
    .option('--sim-dir <dir>', 'the simulated host directory, with --platform sim')
    .option('--domid <id>', 'this domain id (default 0; a driver domain gives its own)', wrap(parseDomid));
  addOperationsOptions(addDaemonOptions(cmd)).action(async (o: RunOpts, c: Command) => {
    if (!isLogLevel(o.logLevel)) throw new Error('unreachable: commander checks choices');
    let prepared;
    try {
      prepared = prepareRun(c);
    } catch (err) {
      if (err instanceof ConfigError) c.error(`error: ${err.message}`, { exitCode: 2, code: 'vdispld.config' });
      throw err;
    }
    const typed = {
      output: c.getOptionValueSource('output') === 'cli',
      card: c.getOptionValueSource('card') === 'cli',
    };
    process.exitCode = await serve(daemonOptions(o), prepared.log, { ops: prepared.ops, typed });
  });
}
