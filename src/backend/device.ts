// One vdispl device: runs the state table against XenStore. Every watch event marks the device
// dirty; one loop at a time reads a fresh snapshot, asks the table, performs the action, and goes
// round again until the table says 'none'. Backend writes happen in a transaction that first
// checks the device still exists, so a device the toolstack just removed is never half re-created.
// A failed device's error goes where operators read it (<backend>/error) and where the XenBus
// convention puts it (/local/domain/<own>/error/<backend path below the domain home>/error).
import { XEN_EINVAL, XenbusState, XsField, xenbusStateName } from '../displif/constants.js';
import { formatVersions, parseXenbusState } from '../displif/xenstore-fields.js';
import type { DevId, DomId } from '../util/ids.js';
import { emitter } from '../util/events.js';
import type { Logger } from '../util/log.js';
import type { XenStore, XsOps, XsWatch } from '../xenstore/types.js';
import type { RegistryCounts } from './buffer-registry.js';
import { Connection, type ConnectionEnv, type ConnectorStatus } from './connection.js';
import { DeviceConfigError, RingSetupError, checkFrontendPath, readDeviceConfig, type Fault } from './device-config.js';
import type { ConnectionEvents, DeviceProtocol, ServedConnection } from './device-protocol.js';
import { FailureBackoff } from './failure-backoff.js';
import { readGuestIdentity } from './guest-identity.js';
import {
  decide,
  phaseAfterConnectFailure,
  type FrontendState,
  type Phase,
  type Snapshot,
  type Transition,
} from './state-machine.js';

export interface DeviceEnv extends ConnectionEnv {
  readonly xs: XenStore;
  readonly log: Logger;
  /** The kind of device served; vdispl (displif) when absent. */
  readonly protocol?: DeviceProtocol;
}

export interface DeviceStatus {
  readonly domid: number;
  readonly devId: number;
  readonly phase: Phase;
  readonly frontendState: string;
  readonly error: string | undefined;
  readonly connectors: readonly ConnectorStatus[];
}

/**
 * The XenBus convention's error node for a backend path: the path below its domain's home, under
 * that domain's error/ directory (Linux's xenbus_dev_error writes the same place). Undefined for a
 * path outside /local/domain/<id>/, which only a test could give.
 */
export function conventionalErrorPath(bePath: string): string | undefined {
  const m = /^(\/local\/domain\/\d+)\/(.+)$/.exec(bePath);
  return m ? `${m[1]}/error/${m[2]}/${XsField.ERROR}` : undefined;
}

export interface DeviceEvents {
  /** The device's backend nodes are gone and it released everything (once). */
  gone: [];
}

export class Device {
  readonly events = emitter<DeviceEvents>();
  private phase: Phase = 'idle';
  private prevFe: FrontendState | undefined;
  private fe: FrontendState = 'absent';
  private fePath: string | undefined;
  private feWatch: XsWatch | undefined;
  private connection: ServedConnection | undefined;
  private broken: string | undefined;
  private loop: Promise<void> | undefined;
  private dirty = false;
  private stopping = false;
  /** Failures in a row: how loudly, and after how long a new connection is offered. */
  private readonly backoff = new FailureBackoff();
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  /** Why the last connection was found broken, for the error node written after its release. */
  private brokenReason = '';
  /** Its nodes were seen at least once (watch events can name a device that is already gone). */
  private seen = false;
  /** When the first watch event not yet evaluated arrived: transition logs say how long we took. */
  private pendingSince: number | undefined;
  /** The watch event that started the current evaluation (see pendingSince). */
  private evalSince: number | undefined;
  private readonly errorNode: string | undefined;
  private warnedPvBeAlloc = false;
  private warnedDistrust = false;
  private readonly log: Logger;

  constructor(
    private readonly env: DeviceEnv,
    readonly domid: DomId,
    readonly devId: DevId,
    readonly bePath: string,
  ) {
    this.log = env.log.child({ domid, dev: devId });
    this.errorNode = conventionalErrorPath(bePath);
    this.protocol = env.protocol ?? this.displif();
  }

  private readonly protocol: DeviceProtocol;

  /** The vdispl device: displif's configuration and connection. */
  private displif(): DeviceProtocol {
    return {
      frontendClass: 'vdispl',
      readyWhenConnected: false,
      initWaitFields: () => Promise.resolve({ [XsField.BE_VERSIONS]: formatVersions() }),
      open: async (r) => {
        // The guest's name and UUID come from dom0's nodes, read with the connector set: the
        // output map keys mappings by them, never by anything in the guest's own directories.
        const [cfg, who] = await Promise.all([
          readDeviceConfig(this.env.xs, r.fePath),
          readGuestIdentity(this.env.xs, r.domid, this.env.platform.ownDomid),
        ]);
        if (who.distrusted.length > 0 && !this.warnedDistrust) {
          this.warnedDistrust = true;
          this.log.warn(`not naming this guest by nodes another domain may write: ${who.distrusted.join('; ')}`);
        }
        if (cfg.beAlloc) await this.warnPvBeAlloc();
        const conn = await Connection.open(this.env, who.identity, r.devId, cfg, r.log, r.events);
        // Which output each connector got: the routing an operator checks first.
        const name = who.identity.name !== undefined ? `${JSON.stringify(who.identity.name)}: ` : '';
        const outs = conn.status().map((c) => `${c.index} (unique-id ${JSON.stringify(c.uniqueId)}) on ${c.output}`);
        this.log.info({ outputs: conn.status().map((c) => c.output) }, `${name}connector ${outs.join(', ')}`);
        return conn;
      },
    };
  }

  get currentPhase(): Phase {
    return this.phase;
  }

  status(): DeviceStatus {
    return {
      domid: this.domid,
      devId: this.devId,
      phase: this.phase,
      frontendState: this.fe === 'absent' ? 'absent' : xenbusStateName(this.fe),
      error: this.lastError,
      connectors: this.connection?.status() ?? [],
    };
  }

  /** The live connection's registry counts, or undefined when not connected. */
  resources(): RegistryCounts | undefined {
    return this.connection?.counts();
  }

  /** Something under the device's backend or frontend nodes changed: re-evaluate. */
  notify(): void {
    if (this.stopping) return;
    this.pendingSince ??= performance.now();
    this.dirty = true;
    if (!this.loop) {
      this.loop = this.run().finally(() => {
        this.loop = undefined;
        if (this.dirty && !this.stopping) this.notify();
      });
    }
  }

  /** Resolves when no evaluation is running (tests and shutdown). */
  async settled(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Daemon shutdown: stop reacting, release the connection and tell the frontend we are gone
   * (Closed), so it drops its device and reconnects when a backend offers InitWait again.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.clearRetry();
    await this.settled();
    const had = this.connection !== undefined || this.phase === 'initwait';
    await this.releaseConnection();
    await this.feWatch?.close().catch(() => {});
    this.feWatch = undefined;
    if (had) await this.writeBackend({ [XsField.STATE]: String(XenbusState.Closed) }).catch(() => false);
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.stopping) {
      this.dirty = false;
      // A pass that acts keeps the event that started the work, so the log shows the whole reaction.
      this.evalSince ??= this.pendingSince;
      this.pendingSince = undefined;
      let snap: Snapshot | 'gone';
      try {
        snap = await this.snapshot();
      } catch (err) {
        // XenStore trouble (a restarting xenstored): the client fires every watch again after it
        // reconnects, which brings us back here.
        this.log.warn(`cannot read XenStore state: ${(err as Error).message}`);
        return;
      }
      if (snap === 'gone') {
        await this.gone();
        return;
      }
      const t = decide(this.phase, snap, this.prevFe, this.protocol.readyWhenConnected);
      this.prevFe = snap.frontend;
      this.fe = snap.frontend;
      if (t.action.kind === 'none') {
        this.evalSince = undefined;
        continue;
      }
      if (t.action.kind === 'publish-initwait' && this.phase === 'closed-retry' && Date.now() < this.retryAt) {
        this.armRetry();
        continue;
      }
      try {
        await this.perform(t);
      } catch (err) {
        this.log.warn(`${t.action.kind} failed: ${(err as Error).message}`);
        return;
      }
      this.dirty = true;
    }
  }

  private async perform(t: Transition): Promise<void> {
    const from = this.phase;
    const a = t.action;
    // how much of a teardown the release itself took (outputs off, unmaps, unbinds)
    let releaseMs: number | undefined;
    switch (a.kind) {
      case 'none':
        return;
      case 'publish-initwait':
        await this.writeBackend(
          {
            ...(await this.protocol.initWaitFields(this.domid, this.devId, this.bePath)),
            [XsField.STATE]: String(XenbusState.InitWait),
          },
          true,
        );
        break;
      case 'kick-initwait':
        await this.writeBackend({ [XsField.STATE]: String(XenbusState.InitWait) });
        break;
      case 'connect':
        if (!(await this.connect())) return;
        break;
      case 'release': {
        const t0 = performance.now();
        await this.releaseConnection();
        releaseMs = Math.round(performance.now() - t0);
        if (a.then === 'initwait') await this.writeBackend({ [XsField.STATE]: String(XenbusState.InitWait) });
        else if (a.then === 'removed') await this.writeBackend({ [XsField.STATE]: String(XenbusState.Closed) });
        else await this.fail('frontend', `frontend broke the ring protocol: ${this.brokenReason}`, false);
        break;
      }
      case 'close':
        await this.writeBackend({ [XsField.STATE]: String(XenbusState.Closed) });
        break;
    }
    this.phase = t.next;
    if (from !== this.phase) {
      const ms = this.evalSince === undefined ? undefined : Math.round(performance.now() - this.evalSince);
      this.evalSince = undefined;
      this.log.info(
        {
          from,
          to: this.phase,
          ms,
          releaseMs,
        },
        `${from} -> ${this.phase} (frontend ${this.fe === 'absent' ? 'absent' : xenbusStateName(this.fe)})` +
          `${ms !== undefined ? ` ${ms} ms after the watch event` : ''}${releaseMs !== undefined ? `, ${releaseMs} ms of it releasing` : ''}`,
      );
    }
    if (this.phase === 'removed') await this.unwatchFrontend();
  }

  /** true when Connected; false when it failed (the phase is then set by fail()). */
  private async connect(): Promise<boolean> {
    const fePath = this.fePath;
    if (fePath === undefined) return false;
    let conn: ServedConnection | undefined;
    try {
      this.broken = undefined;
      const events = emitter<ConnectionEvents>();
      events.once('broken', (reason) => {
        this.broken = reason;
        this.notify();
      });
      conn = await this.protocol.open({
        domid: this.domid,
        devId: this.devId,
        fePath,
        bePath: this.bePath,
        log: this.log,
        events,
      });
    } catch (err) {
      if (err instanceof DeviceConfigError || err instanceof RingSetupError) {
        await this.fail(err instanceof RingSetupError ? 'frontend' : err.fault, err.message, true);
        return false;
      }
      throw err;
    }
    this.connection = conn;
    if (!(await this.writeBackend({ [XsField.STATE]: String(XenbusState.Connected) }))) {
      await this.releaseConnection();
      return false;
    }
    this.backoff.connected(Date.now());
    this.lastError = undefined;
    return true;
  }

  /**
   * be-alloc buffers reach a guest's programs only through mmap of pages the guest kernel mapped from
   * our grants; an x86 PV guest's page tables may not point at another domain's frames, so Linux
   * xen-drm-front's mmap of them gives SIGBUS on first touch (seen on real Xen: e2e scenario 7). We
   * still serve the device (the guest kernel itself can use the buffers), but say so once. The
   * domain type is libxl's record; other toolstacks may not write it.
   */
  private async warnPvBeAlloc(): Promise<void> {
    if (this.warnedPvBeAlloc) return;
    const type = await this.env.xs.tryRead(`/libxl/${this.domid}/type`).catch(() => undefined);
    if (type !== 'pv') return;
    this.warnedPvBeAlloc = true;
    this.log.warn(
      `dom${this.domid} is an x86 PV guest with be-alloc=1: its programs cannot mmap backend-allocated buffers (SIGBUS in the guest); use be-alloc=0, or a PVH/HVM guest`,
    );
  }

  /** The device cannot be served: one log line, the XenBus error node, state Closed. */
  private async fail(fault: Fault, message: string, setPhase: boolean): Promise<void> {
    const v = this.backoff.fail(Date.now(), fault === 'frontend');
    this.lastError = message;
    // Thinned: a guest can fail on purpose as often as it is let in; the count says how often.
    if (v.loud) this.log.error({ fault, failures: v.count }, `dom${this.domid} device ${this.devId}: ${message}`);
    await this.writeBackend(
      { [XsField.ERROR]: `${XEN_EINVAL} ${message}`, [XsField.STATE]: String(XenbusState.Closed) },
      false,
      `${XEN_EINVAL} ${message}`,
    );
    // From the Closed the frontend sees.
    if (v.retryAfterMs !== undefined) this.retryAt = Date.now() + v.retryAfterMs;
    if (setPhase) {
      const from = this.phase;
      this.phase = phaseAfterConnectFailure(fault);
      this.log.info(`${from} -> ${this.phase}`);
    }
  }

  private async releaseConnection(): Promise<void> {
    const c = this.connection;
    this.connection = undefined;
    this.brokenReason = this.broken ?? 'unknown';
    this.broken = undefined;
    if (c) await c.close();
  }

  private async snapshot(): Promise<Snapshot | 'gone'> {
    const xs = this.env.xs;
    // One round trip when the frontend is known (each costs tens of ms in an emulated dom0).
    const known = this.fePath;
    const [frontend, online, knownState] = await Promise.all([
      xs.tryRead(`${this.bePath}/${XsField.FRONTEND}`),
      xs.tryRead(`${this.bePath}/${XsField.ONLINE}`),
      known !== undefined ? xs.tryRead(`${known}/${XsField.STATE}`) : Promise.resolve(undefined),
    ]);
    if (frontend === undefined) return 'gone';
    this.seen = true;
    if (this.fePath === undefined && this.phase !== 'failed') {
      try {
        this.fePath = checkFrontendPath(frontend, this.domid, this.devId, this.bePath, this.protocol.frontendClass);
      } catch (err) {
        if (!(err instanceof DeviceConfigError)) throw err;
        await this.fail('config', err.message, true);
        return { frontend: 'absent', online: online !== '0' };
      }
      this.feWatch = await xs.watch(`${this.fePath}/${XsField.STATE}`, () => this.notify());
    }
    let fe: FrontendState = 'absent';
    if (this.fePath !== undefined) {
      const raw = this.fePath === known ? knownState : await xs.tryRead(`${this.fePath}/${XsField.STATE}`);
      if (raw !== undefined) {
        const p = parseXenbusState('state', raw);
        // A frontend writing garbage into its state is broken: as if it went Closed.
        fe = p.ok ? p.value : XenbusState.Closed;
      }
    }
    return { frontend: fe, online: online !== '0', broken: this.broken !== undefined };
  }

  /**
   * Writes backend keys if the device still exists; false if it is gone. `clearError` removes both
   * error nodes (the device is offered again); `error` writes the conventional one as well.
   */
  private writeBackend(values: Readonly<Record<string, string>>, clearError = false, error?: string): Promise<boolean> {
    const be = this.bePath;
    const node = this.errorNode;
    return this.env.xs.transaction(async (tx) => {
      if ((await tx.tryRead(`${be}/${XsField.FRONTEND}`)) === undefined) return false;
      // xenstored applies one connection's requests in order: the writes go out together
      const writes = Object.entries(values).map(([k, v]) => tx.write(`${be}/${k}`, v));
      if (node !== undefined && error !== undefined) writes.push(tx.write(node, error));
      await Promise.all(writes);
      if (clearError) {
        if ((await tx.tryRead(`${be}/${XsField.ERROR}`)) !== undefined) await tx.rm(`${be}/${XsField.ERROR}`);
        if (node !== undefined) await this.rmErrorNode(tx, node);
      }
      return true;
    });
  }

  /** Removes the conventional error node and the directories it alone kept (they are ours). */
  private async rmErrorNode(tx: XsOps, node: string): Promise<void> {
    if ((await tx.tryRead(node)) === undefined) return;
    // Up to the device's own directory under error/: the rest (error/backend/vdispl/<domid>) may hold
    // other devices' errors, so each level goes only when empty.
    await tx.rm(node.slice(0, node.lastIndexOf('/')));
    const home = node.slice(0, node.indexOf('/error/') + '/error'.length);
    for (let dir = node.slice(0, node.lastIndexOf('/')); ;) {
      dir = dir.slice(0, dir.lastIndexOf('/'));
      if (dir.length <= home.length) break;
      const left = await tx.directory(dir).catch(() => ['?']);
      if (left.length > 0) break;
      await tx.rm(dir);
    }
  }

  private async gone(): Promise<void> {
    this.stopping = true;
    this.clearRetry();
    await this.releaseConnection();
    await this.unwatchFrontend();
    // The toolstack removes the backend directory, not what we wrote under error/.
    const node = this.errorNode;
    if (node !== undefined) {
      await this.env.xs
        .transaction((tx) => this.rmErrorNode(tx, node))
        .catch((err: unknown) => this.log.warn(`cannot remove ${node}: ${(err as Error).message}`));
    }
    if (this.seen) this.log.info('device removed');
    this.events.emit('gone');
  }

  private async unwatchFrontend(): Promise<void> {
    const w = this.feWatch;
    this.feWatch = undefined;
    if (w) await w.close().catch(() => {});
  }

  private armRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.notify();
      },
      Math.max(0, this.retryAt - Date.now()),
    );
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
