// One simulated host with the backends under test on it: vdispld serving dom0's devices and/or
// the C floor serving a driver domain's, and the bench guests of each. Everything it starts it
// stops in close(), in reverse order: guests, backends, host.
import { join } from 'node:path';
import { SimHost } from '../../src/sim/index.js';
import { startDaemon, startFloor, type Backend } from './backends.js';
import type { BenchContext } from './context.js';
import { startGuests, type BenchGuest, type GuestSpec } from './guests.js';
import { NotifySocket } from './notify.js';

export interface RigOptions {
  /** Name for profiles and control sockets. */
  readonly name: string;
  readonly daemon: boolean;
  readonly floor: boolean;
  /** vdispld's headless outputs (NAME=WxH@HZ). */
  readonly headless: readonly string[];
  /** The floor's vblank clock (match the outputs' refresh). */
  readonly vblankHz: number;
}

export class Rig {
  readonly guests: BenchGuest[] = [];
  private closed = false;

  private constructor(
    readonly host: SimHost,
    private readonly notify: NotifySocket,
    readonly daemon: Backend | undefined,
    readonly floor: Backend | undefined,
    readonly floorDomid: number,
  ) {}

  static async start(ctx: BenchContext, o: RigOptions): Promise<Rig> {
    const host = await SimHost.start();
    const notify = new NotifySocket();
    let daemon: Backend | undefined;
    let floor: Backend | undefined;
    try {
      // The floor gets a driver domain of its own, so that both can serve guests on one host.
      const floorDomid = o.floor ? (await host.createDomain({ name: 'floor', frontend: false, ramMiB: 16 })).domid : 0;
      if (o.daemon) {
        daemon = await startDaemon({
          mainJs: ctx.daemonJs,
          host,
          notify,
          headless: o.headless,
          controlSocket: join(host.dir, 'control.sock'),
          nodeArgs: ctx.daemonNodeArgs(o.name),
        });
      }
      if (o.floor) floor = await startFloor({ exe: ctx.floors.ring, host, notify, domid: floorDomid, vblankHz: o.vblankHz });
      return new Rig(host, notify, daemon, floor, floorDomid);
    } catch (err) {
      await floor?.stop();
      await daemon?.stop();
      await host.close();
      notify.close();
      throw err;
    }
  }

  /** Guests for `backend` (this rig's daemon or floor), each with one device of these connectors. */
  async addGuests(backend: Backend, count: number, connectors: (guest: number) => string[]): Promise<BenchGuest[]> {
    const domid = backend.kind === 'floor' ? this.floorDomid : 0;
    const specs: GuestSpec[] = Array.from({ length: count }, (_, i) => ({ backendDomid: domid, connectors: connectors(i) }));
    const made = await startGuests(this.host, backend, specs);
    this.guests.push(...made);
    return made;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.guests.map((g) => g.close()));
    await this.daemon?.stop();
    await this.floor?.stop();
    await this.host.close();
    this.notify.close();
  }
}
