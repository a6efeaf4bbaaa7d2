// The operations side of `vdispld run` and `vdispld demo`: configuration from file, environment,
// command line and XenStore; the log sink (journald under systemd); and, around the daemon's life,
// metrics, the control socket and the viewer. The commands call it at three points: when options
// are parsed (prepare), before the daemon starts (it supplies the live connector map, quotas and
// metrics hooks) and after (it starts the listeners on the daemon's probe).
import type { EventEmitter } from 'node:events';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { StartupError, type Daemon, type DaemonOptions } from '../daemon.js';
import { formatLayout } from '../backend/layouts.js';
import type { Layout } from '../drm/compose/layout.js';
import { createLogger, type Logger } from '../util/log.js';
import { XenStoreClient, unixSocketTransport } from '../xenstore/index.js';
import { envName } from './config/env.js';
import { buildLayer, type RawEntry } from './config/layer.js';
import { LiveConfig } from './config/live-config.js';
import { ConfigError, loadLocalConfig, type LocalConfig } from './config/load.js';
import { resolve } from './config/resolve.js';
import { DEFAULT_CONTROL_SOCKET, SCALAR_BY_KEY, type Settings } from './config/settings.js';
import { subtreePath } from './config/xenstore-subtree.js';
import { daemonPathOf, daemonProbe } from './daemon-probe.js';
import { chooseFormat, LogSink } from './log/log-sink.js';
import { OpsServices } from './ops-services.js';
import { DeferredProbe } from './probe.js';

export { ConfigError };

/** Options of the daemon's commands that come from the layered settings rather than commander alone. */
const LAYERED = new Set([
  'connector',
  'layout',
  'quota',
  'unmapped',
  'logLevel',
  'config',
  'zeroCopy',
  'metrics',
  'viewer',
  'controlSocket',
  'logFormat',
]);

/** Environment variables of the layered options the command defines itself. */
const LAYERED_ENV: Readonly<Record<string, string>> = {
  connector: `${envName('connectors')}, comma-separated`,
  layout: `${envName('layouts')}, semicolon-separated`,
  quota: envName('quotas'),
  unmapped: envName('unmapped'),
  logLevel: envName('log-level'),
};

const EXAMPLES = `
Settings come from (lowest first) defaults, the config file, the XenStore subtree
/local/domain/<domid>/vdispld, the environment, and the command line; see docs/OPERATIONS.md.

Examples:
  vdispld run                                   # as systemd/vdispld.service starts it
  vdispld run --connector vm1/id0=HDMI-A-1 --quota buffers=16
  vdispld run --metrics 9464 --viewer 8080      # loopback listeners
  VDISPLD_CONFIG=/etc/vdispld/vdispld.toml vdispld run --log-format json`;

function scalarOption(flags: string, key: string, extraHelp = ''): Option {
  const spec = SCALAR_BY_KEY.get(key)!;
  return new Option(flags, `${spec.help}${extraHelp} (env: ${envName(key)})`).argParser((v: string) => {
    try {
      spec.parse(v);
    } catch (err) {
      // commander prints an InvalidArgumentError as one line naming the option, and exits 2.
      throw new InvalidArgumentError((err as Error).message);
    }
    return v;
  });
}

/**
 * Adds --config, --zero-copy, --metrics, --viewer, --control-socket and --log-format, names an environment
 * variable for every other option of `cmd` (VDISPLD_<OPTION>), and records the raw --quota values
 * (the command's own parser folds them into one object, losing which keys were typed).
 */
export function addOperationsOptions(
  cmd: Command,
  defaults: { controlSocket?: string; examples?: string; kms?: boolean } = {},
): Command {
  // commander binds an option's environment variable when the option is added, so the command's
  // own options are taken out and added again, each with its variable (the layered ones get it
  // from our environment layer instead, and only say so in --help).
  const own = [...cmd.options];
  const events = cmd as unknown as EventEmitter; // commander's Command is one; its types omit it
  (cmd.options as Option[]).length = 0;
  for (const o of own) {
    events.removeAllListeners(`option:${o.name()}`);
    events.removeAllListeners(`optionEnv:${o.name()}`);
    const attr = o.attributeName();
    if (LAYERED_ENV[attr] !== undefined) o.description = `${o.description} (env: ${LAYERED_ENV[attr]})`;
    else if (!LAYERED.has(attr) && o.envVar === undefined && o.long) o.env(envName(o.long.replace(/^--/, '')));
    cmd.addOption(o);
  }
  cmd.addHelpText('after', defaults.examples ?? EXAMPLES);
  const rawQuotas: string[] = [];
  cmd.on('option:quota', (v: string) => rawQuotas.push(v));
  cmd.setOptionValueWithSource('rawQuotas', rawQuotas, 'default');
  cmd.addOption(
    new Option(
      '--config <file>',
      `TOML settings file (default /etc/vdispld/vdispld.toml if present) (env: ${envName('config')})`,
    ),
  );
  // Only a command that may drive KMS outputs offers the switch (the demo is headless: nothing to switch).
  if (defaults.kms ?? true) cmd.addOption(scalarOption('--zero-copy <on|off>', 'zero-copy'));
  return cmd
    .addOption(scalarOption('--metrics <addr>', 'metrics'))
    .addOption(scalarOption('--viewer <addr>', 'viewer'))
    .addOption(
      new Option(
        '--viewer-input',
        'the viewer page sends keyboard, mouse and touch to the guest it shows (loopback viewer only; off by default)',
      ).env(envName('viewer-input')),
    )
    .addOption(
      scalarOption(
        '--control-socket <path>',
        'control-socket',
        ` (default: ${defaults.controlSocket ?? DEFAULT_CONTROL_SOCKET})`,
      ),
    )
    .addOption(scalarOption('--log-format <format>', 'log-format'));
}

/** What the operator typed on the command line, as entries of the 'cli' layer. */
export function commandLineEntries(cmd: Command): RawEntry[] {
  const o = cmd.opts<Record<string, unknown>>();
  const typed = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
  const out: RawEntry[] = [];
  for (const [attr, key] of [
    ['unmapped', 'unmapped'],
    ['logLevel', 'log-level'],
    ['zeroCopy', 'zero-copy'],
    ['metrics', 'metrics'],
    ['viewer', 'viewer'],
    ['controlSocket', 'control-socket'],
    ['logFormat', 'log-format'],
  ] as const) {
    if (typed(attr) && o[attr] !== undefined) out.push({ key, value: o[attr] });
  }
  if (typed('connector'))
    for (const [id, output] of o['connector'] as [string, string][])
      out.push({ key: `connectors.${id}`, value: output });
  if (typed('layout'))
    for (const [output, layout] of o['layout'] as [string, Layout][])
      out.push({ key: `layouts.${output}`, value: formatLayout(layout) });
  for (const spec of (o['rawQuotas'] as string[] | undefined) ?? []) {
    for (const part of spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const eq = part.indexOf('=');
      out.push({ key: `quotas.${part.slice(0, eq)}`, value: part.slice(eq + 1) });
    }
  }
  return out;
}

/** The config file the operator named (--config, then VDISPLD_CONFIG), or undefined for the default path. */
export function configFileOf(cmd: Command, env: Readonly<Record<string, string | undefined>>): string | undefined {
  return cmd.opts<{ config?: string }>().config ?? (env[envName('config')] || undefined);
}

/** The variables every command's options read (walked from the program), so none is called unknown. */
export function optionEnvNames(cmd: Command): Set<string> {
  let top = cmd;
  while (top.parent) top = top.parent;
  const out = new Set<string>();
  const walk = (c: Command): void => {
    for (const o of c.options) if (o.envVar !== undefined) out.add(o.envVar);
    c.commands.forEach(walk);
  };
  walk(top);
  return out;
}

export interface PreparedRun {
  readonly log: Logger;
  readonly ops: RunOperations;
}

/**
 * Reads the local settings and makes the logger. Throws ConfigError (one line naming source and
 * key) on a bad value: the caller exits 2.
 */
export function prepareRun(
  cmd: Command,
  env: Readonly<Record<string, string | undefined>> = process.env,
  fixed: { controlSocket?: string; logLevel?: string } = {},
): PreparedRun {
  const file = configFileOf(cmd, env);
  const loaded = loadLocalConfig({
    cli: commandLineEntries(cmd),
    env,
    knownEnv: optionEnvNames(cmd),
    configFile: file,
  });
  // A command's own defaults (the demo logs less) sit below every source.
  const own = buildLayer(
    'default',
    fixed.logLevel !== undefined ? [{ key: 'log-level', value: fixed.logLevel }] : [],
  ).layer;
  const local: LocalConfig = { ...loaded, layers: [own, ...loaded.layers] };
  const settings = resolve(local.layers).settings;
  const sink = new LogSink({ format: chooseFormat(settings.logFormat, env) });
  const log = createLogger({ level: settings.logLevel, destination: sink });
  for (const w of local.warnings) log.warn(`config: ${w}`);
  if (local.file) log.info({ file: local.file }, `config file ${local.file}`);
  return {
    log,
    ops: new RunOperations(
      local,
      log,
      sink,
      fixed.controlSocket,
      cmd.opts<{ viewerInput?: boolean }>().viewerInput === true,
    ),
  };
}

/**
 * Input from the viewer reaches guests with no authentication: only a viewer on the loopback
 * interface may take it (whoever can reach a loopback port is already on the host).
 */
function checkViewerInput(viewer: Settings['viewer']): void {
  if (viewer === 'off') throw new StartupError('--viewer-input needs the viewer (--viewer PORT)');
  if (!['127.0.0.1', '::1', 'localhost'].includes(viewer.host) && !viewer.host.startsWith('127.')) {
    throw new StartupError(`--viewer-input needs the viewer on a loopback address, not ${viewer.host}`);
  }
}

/** How the drm-device setting maps onto the daemon's --output/--card, unless those were typed. */
function outputFromSetting(s: Settings, opts: DaemonOptions): Partial<DaemonOptions> {
  if (s.drmDevice === 'none') return { output: 'headless' };
  if (s.drmDevice === 'auto') return {};
  return opts.output === 'headless' ? {} : { output: 'kms', card: s.drmDevice };
}

export class RunOperations {
  private config: LiveConfig | undefined;
  private xs: XenStoreClient | undefined;
  private services: OpsServices | undefined;
  private readonly probe = new DeferredProbe();
  private daemon: Daemon | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly local: LocalConfig,
    private readonly log: Logger,
    private readonly sink: LogSink,
    /** The demo's own control socket path, used when no layer sets one. */
    private readonly controlSocketDefault: string | undefined,
    /** --viewer-input: the viewer's page may send input to guests. */
    private readonly viewerInput = false,
  ) {}

  /**
   * Reads the XenStore subtree (own connection; the daemon's is not up yet, and the connector map
   * must be right before the first guest is claimed), starts metrics/control/viewer listeners on a
   * probe that fills in once the daemon runs, and returns the daemon's options with the live
   * connector map, quotas and metrics hooks.
   */
  async beforeStart(
    opts: DaemonOptions,
    typed: { output: boolean; card: boolean },
    version: string,
  ): Promise<DaemonOptions> {
    const domid = opts.domid ?? 0;
    try {
      this.xs = await XenStoreClient.connect({
        transport: opts.xenstore !== undefined ? unixSocketTransport(opts.xenstore) : undefined,
        log: (line) => this.log.warn({ part: 'config' }, line),
      });
    } catch (err) {
      this.log.warn(`config: XenStore settings not read (${(err as Error).message})`);
    }
    this.config = await LiveConfig.start({
      local: this.local.layers,
      ...(this.xs ? { xenstore: { xs: this.xs, root: subtreePath(`/local/domain/${domid}`), ownDomid: domid } } : {}),
      log: this.log,
      onChange: (s, changed) => {
        if (changed.includes('logLevel')) this.log.level = s.logLevel;
        // Applied at each composed output's next vblank; a layout an output cannot show is refused there.
        if (changed.includes('layouts')) void this.daemon?.outputs.applyLayouts();
        // Planned paths are kept (a framebuffer does not change path mid-stream): say what changes.
        if (changed.includes('zeroCopy'))
          this.log.info(`config: zero-copy ${s.zeroCopy ? 'on' : 'off'} for framebuffers attached from now on`);
      },
    });
    const s = this.config.settings;
    this.log.level = s.logLevel;
    const origin = this.config.origin;
    if (this.viewerInput) checkViewerInput(s.viewer);
    const controlSocket =
      origin.get('control-socket') === 'default' && this.controlSocketDefault !== undefined
        ? this.controlSocketDefault
        : s.controlSocket;
    try {
      this.services = await OpsServices.start({
        probe: this.probe,
        log: this.log,
        version,
        controlSocket,
        controlSocketOptional: origin.get('control-socket') === 'default',
        metrics: s.metrics,
        viewer: s.viewer,
        viewerInput: this.viewerInput,
        config: () => this.configReport(),
        logSuppressed: () => this.sink.stats.rateLimited,
      });
    } catch (err) {
      // One line for the operator (the listener names itself), not a stack.
      throw new StartupError((err as Error).message);
    }
    const out = typed.output || typed.card || origin.get('drm-device') === 'default' ? {} : outputFromSetting(s, opts);
    const config = this.config;
    return {
      ...opts,
      ...out,
      connectorMap: config.connectorMap,
      layouts: config.layouts,
      quotas: config.quotas,
      unmapped: s.unmapped,
      zeroCopy: () => config.settings.zeroCopy,
      observer: this.services.metrics,
    };
  }

  /** The daemon is up: the listeners now see it. */
  afterStart(daemon: Daemon): void {
    this.daemon = daemon;
    this.probe.set(daemonProbe(daemon, this.config?.layoutRefusals));
    this.services?.setPathOf(daemonPathOf(daemon));
  }

  /** One line per listener, for a command to print. */
  listeners(): string[] {
    const l = this.services?.status().listeners ?? {};
    return [
      ...(l.controlSocket ? [`control socket ${l.controlSocket} (vdispld status --socket ${l.controlSocket})`] : []),
      ...(l.viewer ? [`viewer ${l.viewer}`] : []),
      ...(l.metrics ? [`metrics ${l.metrics}`] : []),
    ];
  }

  /** --viewer-input was given: a person at the viewer is the input source. */
  get viewerInputOn(): boolean {
    return this.viewerInput;
  }

  get viewerAddress(): { host: string; port: number } | undefined {
    return this.services?.viewerAddress;
  }

  get metricsAddress(): { host: string; port: number } | undefined {
    return this.services?.metricsAddress;
  }

  /** Idempotent: listeners, the XenStore watch and connection, then the log sink. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.services?.close();
      await this.config?.close();
      await this.xs?.close();
      this.sink.close();
    })();
    return this.stopping;
  }

  private configReport(): Record<string, { value: unknown; origin: string }> {
    const c = this.config;
    if (!c) return {};
    const s = c.settings;
    const out: Record<string, { value: unknown; origin: string }> = {};
    for (const [key, origin] of c.origin) {
      let value: unknown;
      if (key.startsWith('connectors.')) value = s.connectors.get(key.slice('connectors.'.length));
      else if (key.startsWith('layouts.')) {
        const l = s.layouts.get(key.slice('layouts.'.length));
        value = l ? formatLayout(l) : undefined;
      } else if (key.startsWith('quotas.')) value = c.quotaValues.get(key.slice('quotas.'.length));
      else value = s[SCALAR_BY_KEY.get(key)!.field];
      out[key] = { value, origin };
    }
    return out;
  }
}
