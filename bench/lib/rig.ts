// One simulated host with the backends under test on it, each serving its own guests: vdispld in
// dom0 (or a driver domain), the C floor in a driver domain, or two vdispld builds side by side.
// Because they serve different domains' devices, they can all live at once and rounds can
// alternate between them. Everything it starts it stops in close(), in reverse order: guests,
// backends, host.
import { join } from 'node:path';
import { controlRequest } from '../../src/ops/control/control-client.js';
import { SimHost } from '../../src/sim/index.js';
import { startDaemon, startFloor, type Backend } from './backends.js';
import { removeOnExit } from './children.js';
import type { BenchContext } from './context.js';
import { startGuests, type BenchGuest, type GuestSpec } from './guests.js';
import { NotifySocket } from './notify.js';

export type BackendSpec =
  /** vdispld compiled to `mainJs` (default: the build under test), in dom0 unless `driverDomain`. */
  | { readonly label: string; readonly kind: 'vdispld'; readonly mainJs?: string; readonly driverDomain?: boolean }
  /** The C ring floor (or with `node`, the Node ring floor), always in a driver domain of its own. */
  | { readonly label: string; readonly kind: 'floor'; readonly node?: boolean };

/** The usual pair: vdispld in dom0 and the C floor beside it. */
export const BOTH: readonly BackendSpec[] = [
  { label: 'vdispld', kind: 'vdispld' },
  { label: 'floor', kind: 'floor' },
];

export interface RigOptions {
  /** Name for profiles. */
  readonly name: string;
  readonly backends: readonly BackendSpec[];
  /** vdispld's headless outputs (NAME=WxH@HZ). */
  readonly headless: readonly string[];
  /** The floor's vblank clock (match the outputs' refresh). */
  readonly vblankHz: number;
  /** vdispld's `--quota` (default: its own defaults). */
  readonly quota?: string;
  /** The simulated Xen's grant-mapping table per domain (default Xen's 262,144 entries). */
  readonly maptrackEntries?: number;
}

interface Served {
  readonly backend: Backend;
  readonly domid: number;
  /** vdispld's control socket; undefined for the floor. */
  readonly controlSocket: string | undefined;
}

interface StatusConnector {
  readonly uniqueId?: string;
  readonly output?: string;
}

/**
 * Throws unless vdispld shows each of these guests' connectors on the output named after it: a
 * connector on an output of its own would flip at 60 Hz whatever the named output's rate, and the
 * figures would measure another setup than the one they name.
 */
async function checkPlacement(controlSocket: string, guests: readonly BenchGuest[]): Promise<void> {
  const answer = await controlRequest(controlSocket, { v: 1, cmd: 'status' });
  const status = answer.header['status'] as
    { devices?: { domid: number; connectors?: StatusConnector[] }[] } | undefined;
  for (const g of guests) {
    const dev = status?.devices?.find((d) => d.domid === g.domid);
    for (const c of dev?.connectors ?? []) {
      if (c.uniqueId !== undefined && c.output !== undefined && c.output !== c.uniqueId)
        throw new Error(`rig: vdispld shows connector ${c.uniqueId} of guest ${g.domid} on output ${c.output}`);
    }
  }
}

export class Rig {
  readonly guests: BenchGuest[] = [];
  private closed = false;

  private constructor(
    readonly host: SimHost,
    private readonly notify: NotifySocket,
    private readonly served: Map<string, Served>,
    private readonly forgetDir: () => void,
  ) {}

  static async start(ctx: BenchContext, o: RigOptions): Promise<Rig> {
    const host = await SimHost.start(o.maptrackEntries ? { maptrackEntries: o.maptrackEntries } : {});
    const forgetDir = removeOnExit(host.dir);
    const notify = new NotifySocket();
    const served = new Map<string, Served>();
    try {
      for (const spec of o.backends) {
        const driver = spec.kind === 'floor' || spec.driverDomain === true;
        const domid = driver
          ? (await host.createDomain({ name: `backend-${spec.label}`, frontend: false, ramMiB: 16 })).domid
          : 0;
        const controlSocket = spec.kind === 'floor' ? undefined : join(host.dir, `control-${spec.label}.sock`);
        const backend =
          spec.kind === 'floor'
            ? await startFloor({
                exe: spec.node === true ? ctx.floors.ringNode : ctx.floors.ring,
                host,
                notify,
                domid,
                vblankHz: o.vblankHz,
                ...(spec.node === true ? { nodeArgs: ctx.daemonNodeArgs(`${o.name}-${spec.label}`) } : {}),
              })
            : await startDaemon({
                mainJs: spec.mainJs ?? ctx.daemonJs,
                host,
                notify,
                domid,
                headless: o.headless,
                controlSocket: controlSocket!,
                nodeArgs: ctx.daemonNodeArgs(`${o.name}-${spec.label}`),
                ...(o.quota ? { quota: o.quota } : {}),
              });
        served.set(spec.label, { backend, domid, controlSocket });
      }
      return new Rig(host, notify, served, forgetDir);
    } catch (err) {
      for (const s of [...served.values()].reverse()) await s.backend.stop();
      await host.close();
      forgetDir();
      notify.close();
      throw err;
    }
  }

  backend(label: string): Backend {
    const s = this.served.get(label);
    if (!s) throw new Error(`rig: no backend ${label}`);
    return s.backend;
  }

  /** Guests served by backend `label`, each with one device of these connectors. */
  async addGuests(label: string, count: number, connectors: (guest: number) => string[]): Promise<BenchGuest[]> {
    const s = this.served.get(label);
    if (!s) throw new Error(`rig: no backend ${label}`);
    const specs: GuestSpec[] = Array.from({ length: count }, (_, i) => ({
      backendDomid: s.domid,
      connectors: connectors(i),
    }));
    const made = await startGuests(this.host, s.backend, specs);
    this.guests.push(...made);
    if (s.controlSocket !== undefined) await checkPlacement(s.controlSocket, made);
    return made;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.guests.map((g) => g.close()));
    for (const s of [...this.served.values()].reverse()) await s.backend.stop();
    await this.host.close();
    this.forgetDir();
    this.notify.close();
  }
}
