// Daemon wiring: opens the three seams (XenStore, the Xen platform, the outputs), starts the
// backend on them, and takes everything down again in reverse order. Knows options and resources,
// nothing of the protocol. `vdispld run` and `vdispld demo` both start the daemon through here.
import { existsSync, readdirSync } from 'node:fs';
import { DisplayBackend } from './backend/backend.js';
import type { ChannelObserver } from './backend/connector-channel.js';
import { OutputMap, windowTarget } from './backend/output-map.js';
import { DEFAULT_QUOTAS, type Quotas } from './backend/quotas.js';
import { VkbdBackend } from './backend/vkbd-backend.js';
import { EvdevSource } from './input/evdev-source.js';
import { InputRouter } from './input/router.js';
import { orderScreens, type Screen } from './input/desktop.js';
import type { DeviceStatus } from './backend/device.js';
import { HeadlessBackend, type HeadlessOutputSpec } from './drm/headless/headless-backend.js';
import type { Layout } from './drm/compose/layout.js';
import type { OutputBackend } from './drm/output.js';
import type { WaylandBackend } from './drm/wayland/wayland-backend.js';
import type { Logger } from './util/log.js';
import type { XenPlatform } from './xen/platform.js';
import { XenStoreClient, unixSocketTransport } from './xenstore/index.js';
import type { XenStore } from './xenstore/types.js';

export interface DaemonOptions {
  /** XenStore socket; undefined: XENSTORED_PATH, /run/xenstored/socket, then /dev/xen/xenbus. */
  readonly xenstore?: string;
  /** 'linux': /dev/xen through the native addon; 'sim': the simulated host in `simDir`. */
  readonly platform: 'linux' | 'sim';
  readonly simDir?: string;
  /** 'auto': KMS when a DRM card exists, else headless. 'wayland': windows of the dom0 compositor. */
  readonly output: 'auto' | 'kms' | 'headless' | 'wayland';
  /** Wayland socket for `wayland` outputs and mappings (default $WAYLAND_DISPLAY). */
  readonly waylandDisplay?: string;
  /** DRM card for KMS (default: the first that has connectors). */
  readonly card?: string;
  readonly headlessOutputs?: readonly HeadlessOutputSpec[];
  /** unique-id → output name. */
  /** `GUEST/UNIQUE_ID` → output name (see parseConnectorMapping). */
  readonly connectorMap?: ReadonlyMap<string, string>;
  /** Output name → the guest connectors composed on it (a live view; see OutputMap.applyLayouts). */
  readonly layouts?: ReadonlyMap<string, Layout>;
  readonly unmapped?: 'headless' | 'refuse';
  readonly quotas?: Quotas;
  /** This domain's id for the Linux platform (a driver domain is not 0). */
  readonly domid?: number;
  /**
   * The zero-copy switch for KMS outputs, read as each new framebuffer is first shown (a live
   * setting: framebuffers attached after a change follow it). Default: on.
   */
  readonly zeroCopy?: () => boolean;
  /** Metrics hooks on the request path (the operations side's Metrics). */
  readonly observer?: ChannelObserver;
  /** dom0 input devices handed to the guest with focus: paths, or every one under /dev/input. */
  readonly inputDevices?: readonly string[] | 'auto';
  /** The key combination that moves focus to the next guest (key codes). */
  readonly inputSwitch?: readonly number[];
  /**
   * How focus moves: 'switch' (default) only with the key combination; 'pointer' also to the guest
   * whose screen dom0's pointer is on (screens left to right in the connector map's output order).
   */
  readonly inputFocus?: 'switch' | 'pointer';
}

/** A failure to start, already phrased for the user (what, and how to fix it). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

async function openPlatform(opts: DaemonOptions, log: Logger): Promise<XenPlatform> {
  if (opts.platform === 'sim') {
    if (!opts.simDir) throw new StartupError('--platform sim needs --sim-dir DIR (the simulated host directory)');
    const { SimPlatform } = await import('./sim/platform.js');
    try {
      return await SimPlatform.connect({ dir: opts.simDir, domid: opts.domid ?? 0 });
    } catch (err) {
      throw new StartupError(
        `cannot join the simulated host in ${opts.simDir}: ${(err as Error).message} (is it running?)`,
      );
    }
  }
  const { LinuxXenPlatform } = await import('./xen/linux/platform.js');
  try {
    return LinuxXenPlatform.open({
      log: log.child({ part: 'platform' }),
      ownDomid: opts.domid,
    });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

function hasDrmCard(): boolean {
  try {
    return readdirSync('/dev/dri').some((n) => /^card\d+$/.test(n));
  } catch {
    // No /dev/dri (or no right to list it): no card to drive, so headless.
    return false;
  }
}

const waylandNeeds =
  'Wayland output needs a running compositor: set WAYLAND_DISPLAY (or give --wayland-display NAME) and XDG_RUNTIME_DIR';

interface OpenedOutputs {
  readonly primary: OutputBackend;
  readonly headless: HeadlessBackend;
  /** The Wayland backend when --output wayland or a `wayland[:NAME]` mapping asks for windows. */
  readonly windows?: WaylandBackend;
}

/** Every backend once, in reverse order of opening. */
async function closeOutputs(o: OpenedOutputs): Promise<void> {
  if (o.windows && o.windows !== o.primary) await o.windows.close();
  if (o.primary !== o.headless) await o.primary.close();
  await o.headless.close();
}

async function openOutputs(opts: DaemonOptions, log: Logger, xs: XenStore): Promise<OpenedOutputs> {
  const wantsWindows =
    opts.output === 'wayland' ||
    opts.waylandDisplay !== undefined ||
    [...(opts.connectorMap?.values() ?? [])].some((t) => windowTarget(t) !== undefined);
  let windows: WaylandBackend | undefined;
  if (wantsWindows) {
    if (opts.waylandDisplay === undefined && !process.env['WAYLAND_DISPLAY']) throw new StartupError(waylandNeeds);
    // Loaded only when asked for: other daemons never touch libwayland.
    const { WaylandBackend: Backend, waylandStartupProblem } = await import('./drm/wayland/wayland-backend.js');
    try {
      windows = Backend.open({
        display: opts.waylandDisplay,
        log: log.child({ part: 'wayland' }),
        guestName: (domid) => xs.read(`/local/domain/${domid}/name`).catch(() => undefined),
        zeroCopy: opts.zeroCopy,
      });
    } catch (err) {
      throw new StartupError(waylandStartupProblem(err, opts.waylandDisplay));
    }
  }
  try {
    return { ...(await openScreens(opts, log, windows)), windows };
  } catch (err) {
    await windows?.close();
    throw err;
  }
}

async function openScreens(
  opts: DaemonOptions,
  log: Logger,
  windows: WaylandBackend | undefined,
): Promise<{ primary: OutputBackend; headless: HeadlessBackend }> {
  const headless = new HeadlessBackend(opts.headlessOutputs ?? []);
  if (opts.output === 'wayland' && windows) return { primary: windows, headless };
  const kind = opts.output === 'auto' ? (hasDrmCard() ? 'kms' : 'headless') : opts.output;
  if (kind === 'headless' || kind === 'wayland') {
    if (opts.output === 'auto') log.info('no DRM card in /dev/dri: every connector gets a headless output');
    return { primary: headless, headless };
  }
  if (opts.card !== undefined && !existsSync(opts.card)) {
    await headless.close();
    throw new StartupError(`DRM card ${opts.card} does not exist (list cards with \`vdispld outputs\`)`);
  }
  try {
    // Loaded only when asked for: a headless daemon never touches libdrm.
    const { openKmsBackend } = await import('./drm/kms/backend.js');
    const primary = await openKmsBackend({
      card: opts.card,
      zeroCopy: opts.zeroCopy,
      log: log.child({ part: 'kms' }),
    });
    return { primary, headless };
  } catch (err) {
    await headless.close();
    throw new StartupError((err as Error).message);
  }
}

/**
 * What the daemon stands on that no setting changes: its XenStore connection and the Xen
 * platform. Opening them is round trips to other processes (xenstored, the hypervisor's devices or
 * the simulated host) and, for the platform, loading its modules; `vdispld run` opens them while
 * the operations side reads its settings, then hands them to Daemon.start.
 */
export class DaemonGround {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly xs: XenStore,
    readonly platform: XenPlatform,
  ) {}

  /** Both at once; if either fails the other is closed, and a XenStore failure is the one reported. */
  static async open(opts: DaemonOptions, log: Logger): Promise<DaemonGround> {
    const [xs, platform] = await Promise.allSettled([connectXenStore(opts, log), openPlatform(opts, log)]);
    if (xs.status === 'fulfilled' && platform.status === 'fulfilled') return new DaemonGround(xs.value, platform.value);
    if (xs.status === 'fulfilled') await xs.value.close().catch(() => {});
    if (platform.status === 'fulfilled') await platform.value.close().catch(() => {});
    throw xs.status === 'rejected' ? xs.reason : (platform as PromiseRejectedResult).reason;
  }

  /** For a ground never handed to Daemon.start. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.platform.close().catch(() => {});
      await this.xs.close().catch(() => {});
    })();
    return this.closing;
  }
}

async function connectXenStore(opts: DaemonOptions, log: Logger): Promise<XenStore> {
  try {
    return await XenStoreClient.connect({
      transport: opts.xenstore !== undefined ? unixSocketTransport(opts.xenstore) : undefined,
      log: (line) => log.warn({ part: 'xenstore' }, line),
    });
  } catch (err) {
    throw new StartupError(`cannot reach XenStore: ${(err as Error).message}`);
  }
}

export class Daemon {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly xs: XenStore,
    readonly platform: XenPlatform,
    private readonly opened: OpenedOutputs,
    readonly outputs: OutputMap,
    readonly backend: DisplayBackend,
    private readonly log: Logger,
    /** Para-virtual input (vkbd devices) and the router that decides which guest gets it. */
    readonly vkbd: VkbdBackend,
    readonly input: InputRouter,
    /** dom0's own input devices, when asked for. */
    readonly evdev: EvdevSource | undefined,
  ) {}

  /**
   * Starts the backend. `ground`: the XenStore connection and platform opened beforehand (see
   * DaemonGround), owned by the daemon from here on, closed by it if the start fails; else they
   * are opened now.
   */
  static async start(opts: DaemonOptions, log: Logger, ground?: Promise<DaemonGround>): Promise<Daemon> {
    const g = await (ground ?? DaemonGround.open(opts, log));
    const { xs, platform } = g;
    const undo: Array<() => Promise<void>> = [() => g.close()];
    try {
      const opened = await openOutputs(opts, log, xs);
      const { primary, headless } = opened;
      undo.unshift(() => closeOutputs(opened));
      const outputs = new OutputMap({
        backends: primary === headless ? [headless] : [primary, headless],
        // With --output wayland, a connector nobody mapped gets a window of its own.
        onDemand: opened.windows && opened.windows === primary ? opened.windows : headless,
        ...(opened.windows ? { windows: opened.windows } : {}),
        ...(opts.connectorMap ? { connectorMap: opts.connectorMap } : {}),
        ...(opts.unmapped ? { unmapped: opts.unmapped } : {}),
        ...(opts.layouts ? { layouts: opts.layouts } : {}),
        warn: (message) => log.warn(message),
      });
      undo.unshift(async () => {
        await outputs.closeLayouts();
        outputs.close();
      });
      // Layouts are shown before any guest comes (blank rectangles); one that cannot be shown stops the start.
      const refused = await outputs.applyLayouts();
      if (refused.length > 0) throw new StartupError(refused[0]!);
      const backend = await DisplayBackend.start({
        xs,
        platform,
        outputs,
        log,
        quotas: opts.quotas ?? DEFAULT_QUOTAS,
        ...(opts.observer ? { observer: opts.observer } : {}),
      });
      undo.unshift(() => backend.close());
      const input = new InputRouter();
      if (opts.inputFocus === 'pointer') {
        const order = [...new Set(opts.connectorMap?.values() ?? [])];
        input.followPointer(() => orderScreens(guestScreens(backend.status()), order));
      }
      // Keyboard and pointer on a guest's window go to that guest's vkbd (the router decides).
      opened.windows?.setInput(input);
      const vkbd = await VkbdBackend.start({ xs, platform, router: input, log, outputs });
      undo.unshift(() => vkbd.close());
      const evdev = opts.inputDevices
        ? new EvdevSource({
            router: input,
            log,
            devices: opts.inputDevices,
            ...(opts.inputSwitch ? { switchKeys: opts.inputSwitch } : {}),
          })
        : undefined;
      log.info(
        { outputs: primary.outputs().map((o) => o.name), output: primary.kind, platform: opts.platform },
        `serving vdispl devices on ${primary.kind} outputs`,
      );
      return new Daemon(xs, platform, opened, outputs, backend, log, vkbd, input, evdev);
    } catch (err) {
      for (const u of undo) await u().catch(() => {});
      throw err;
    }
  }

  get primary(): OutputBackend {
    return this.opened.primary;
  }

  get headless(): HeadlessBackend {
    return this.opened.headless;
  }

  /** The Wayland backend, when windows were asked for. */
  get windows(): WaylandBackend | undefined {
    return this.opened.windows;
  }

  /** Releases every guest's resources, tells connected frontends, closes the seams. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.evdev?.close();
      await this.vkbd.close();
      await this.backend.close();
      await this.outputs.closeLayouts();
      this.outputs.close();
      await closeOutputs(this.opened);
      await this.platform.close();
      await this.xs.close();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

/** Every connected guest connector as a screen on its output, placed where a layout puts it (the pointer's desktop). */
function guestScreens(devices: readonly DeviceStatus[]): Screen[] {
  return devices.flatMap((d) =>
    d.phase === 'connected'
      ? d.connectors.flatMap((c) => {
          const screen = {
            output: c.output,
            domid: d.domid,
            uniqueId: c.uniqueId,
            width: c.resolution.width,
            height: c.resolution.height,
          };
          if (!c.layoutPlace) return [screen];
          // A layout's connector is on the desktop only while its layout is shown.
          const place = c.layoutPlace();
          return place ? [{ ...screen, place }] : [];
        })
      : [],
  );
}
