// The simulated toolstack: what libxl writes into XenStore for a domain and for a vdispl device,
// in the same order, with the same permissions, and what it does to remove them.
//
// Device add (libxl__device_add_async + libxl__device_generic_add + libxl__set_xenstore_vdispl),
// one transaction:
//   /libxl/<fe>/device/vdispl/<id>/{frontend,backend}          (libxl's private copy)
//   <fe dir>  perms [fe:n, be:r]; backend; backend-id, state=1  (each written with those perms)
//             be-alloc, <i>/resolution, <i>/unique-id           (perms [be:n, fe:r]: read-only for the guest)
//   <be dir>  perms [be:n, fe:r]; frontend; frontend-id, online=1, state=1
//   /libxl/<fe>/device/vdispl/<id>/{frontend-id,online,state}
// Device removal (libxl__initiate_device_generic_remove): online=0 and state=5 (unless already 6)
// in one transaction; wait up to LIBXL_DESTROY_TIMEOUT (10 s) for the backend's state 6; on a
// timeout libxl forces: removes the frontend nodes, writes online/state again and waits another
// 10 s; then (libxl__device_destroy) removes the frontend, libxl and backend paths, each with
// its now-empty parents (libxl__xs_path_cleanup).
import type { XenStore, XsOps, XsPerm } from '../xenstore/types.js';
import { XenStoreError } from '../xenstore/types.js';
import type { VdisplConfig } from './vdispl-config.js';

export const LIBXL_DESTROY_TIMEOUT_MS = 10_000;
const XenbusStateInitialising = 1;
const XenbusStateClosing = 5;
const XenbusStateClosed = 6;

/** Timers the removal waits with; tests pass a manual clock to check the 10 s bound. */
export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface VdisplPaths {
  readonly devid: number;
  readonly frontend: string;
  readonly backend: string;
  readonly libxl: string;
}

export interface RemovalResult {
  /** 'closed': the backend reached state 6; 'gone': its state node vanished; 'timeout': it never did. */
  readonly outcome: 'closed' | 'gone' | 'timeout';
  /** libxl forced the removal after the first 10 s. */
  readonly forced: boolean;
}

/** What `vkb = [ ... ]` can say for a backend-type=linux device (libxl_device_vkb). */
export interface VkbConfig {
  readonly uniqueId?: string;
  readonly disableKeyboard?: boolean;
  readonly disablePointer?: boolean;
  readonly width?: number;
  readonly height?: number;
}

/** libxl: frontend kind vkbd, backend kind vinput for backend-type=linux. */
export const vkbPaths = (feDomid: number, beDomid: number, devid: number): VdisplPaths => ({
  devid,
  frontend: `/local/domain/${feDomid}/device/vkbd/${devid}`,
  backend: `/local/domain/${beDomid}/backend/vinput/${feDomid}/${devid}`,
  libxl: `/libxl/${feDomid}/device/vkbd/${devid}`,
});

export const vdisplPaths = (feDomid: number, beDomid: number, devid: number): VdisplPaths => ({
  devid,
  frontend: `/local/domain/${feDomid}/device/vdispl/${devid}`,
  backend: `/local/domain/${beDomid}/backend/vdispl/${feDomid}/${devid}`,
  libxl: `/libxl/${feDomid}/device/vdispl/${devid}`,
});

const perm = (domid: number, access: XsPerm['access']): XsPerm => ({ domid, access });

function isEnoent(err: unknown): boolean {
  return err instanceof XenStoreError && err.xsError === 'ENOENT';
}

async function rmIfExists(ops: XsOps, path: string): Promise<void> {
  try {
    await ops.rm(path);
  } catch (err) {
    if (!isEnoent(err)) throw err;
  }
}

/** libxl__xs_path_cleanup: removes `path`, then each parent left empty (no value, no children). */
export async function pathCleanup(ops: XsOps, path: string): Promise<void> {
  try {
    await ops.rm(path);
  } catch (err) {
    if (isEnoent(err)) return;
    throw err;
  }
  let p = path;
  for (;;) {
    const slash = p.lastIndexOf('/');
    if (slash <= 0) return;
    p = p.slice(0, slash);
    const value = await ops.tryRead(p);
    if (value === undefined || value !== '') return;
    const children = await ops.directory(p);
    if (children.length !== 0) return;
    await ops.rm(p);
  }
}

export class Toolstack {
  constructor(
    /** A dom0 (privileged) connection. */
    private readonly xs: XenStore,
    private readonly clock: Clock = realClock,
  ) {}

  /** The nodes libxl__domain_make and libxl__build_post write for a new domain. */
  async createDomainNodes(domid: number, name: string, uuid: string, memoryKiB: number): Promise<void> {
    const dom = `/local/domain/${domid}`;
    const vm = `/vm/${uuid}`;
    const roperm = [perm(0, 'n'), perm(domid, 'r')];
    const rwperm = [perm(domid, 'n')];
    const noperm = [perm(0, 'n')];
    await this.xs.transaction(async (t) => {
      const mknod = async (path: string, perms: XsPerm[]): Promise<void> => {
        await t.write(path, '');
        await t.setPerms(path, perms);
      };
      await rmIfExists(t, dom);
      await mknod(dom, roperm);
      await rmIfExists(t, vm);
      await mknod(vm, roperm);
      await rmIfExists(t, `/libxl/${domid}`);
      await mknod(`/libxl/${domid}`, noperm);
      await mknod(`${dom}/device`, roperm);
      await mknod(`${dom}/control`, roperm);
      for (const k of [
        'control/shutdown',
        'control/feature-poweroff',
        'control/feature-reboot',
        'control/feature-suspend',
        'control/sysrq',
        'data',
        'drivers',
        'feature',
        'attr',
        'error',
      ]) {
        await mknod(`${dom}/${k}`, rwperm);
      }
      await t.write(`${vm}/uuid`, uuid);
      await t.write(`${vm}/name`, name);
      await t.write(`${dom}/vm`, vm);
      await t.write(`${dom}/name`, name);
      await t.write(`${dom}/domid`, String(domid));
      await t.write(`${dom}/memory/static-max`, String(memoryKiB));
      await t.write(`${dom}/memory/target`, String(memoryKiB));
    });
  }

  /** What libxl removes when a domain is destroyed: its domain, vm and libxl paths. */
  async destroyDomainNodes(domid: number): Promise<void> {
    const dom = `/local/domain/${domid}`;
    const vm = await this.xs.tryRead(`${dom}/vm`);
    await this.xs.transaction(async (t) => {
      await rmIfExists(t, dom);
      if (vm && vm.startsWith('/vm/')) await rmIfExists(t, vm);
      await rmIfExists(t, `/libxl/${domid}`);
    });
  }

  /** libxl__device_nextid: one past the last device id libxl knows for the domain. */
  nextVdisplId(domid: number): Promise<number> {
    return this.nextId(domid, 'vdispl');
  }

  /** Adds a vdispl device for frontend `domid` served by `backendDomid`; resolves to its paths. */
  async addVdispl(domid: number, backendDomid: number, cfg: VdisplConfig, devid?: number): Promise<VdisplPaths> {
    const id = devid ?? (await this.nextVdisplId(domid));
    const roFents: [string, string][] = [['be-alloc', cfg.beAlloc ? '1' : '0']];
    cfg.connectors.forEach((c, i) => {
      roFents.push([`${i}/resolution`, `${c.width}x${c.height}`]);
      roFents.push([`${i}/unique-id`, c.uniqueId]);
    });
    return this.addDevice(domid, backendDomid, vdisplPaths(domid, backendDomid, id), 'vdispl', roFents, []);
  }

  /**
   * `vkb = [ 'backend-type=linux,unique-id=...' ]`: libxl__set_xenstore_vkb puts the xl keys in the
   * backend directory, which for a Linux backend is of kind vinput.
   */
  async addVkb(domid: number, backendDomid: number, cfg: VkbConfig, devid?: number): Promise<VdisplPaths> {
    const id = devid ?? (await this.nextId(domid, 'vkbd'));
    const extra: [string, string][] = [];
    if (cfg.uniqueId !== undefined) extra.push(['unique-id', cfg.uniqueId]);
    if (cfg.disableKeyboard) extra.push(['feature-disable-keyboard', '1']);
    if (cfg.disablePointer) extra.push(['feature-disable-pointer', '1']);
    if (cfg.width) extra.push(['width', String(cfg.width)]);
    if (cfg.height) extra.push(['height', String(cfg.height)]);
    return this.addDevice(domid, backendDomid, vkbPaths(domid, backendDomid, id), 'vkbd', [], extra);
  }

  /** The vkbd devices libxl has for a domain. */
  listVkb(domid: number): Promise<VdisplPaths[]> {
    return this.listDevices(domid, 'vkbd');
  }

  private async nextId(domid: number, kind: string): Promise<number> {
    let ids: string[];
    try {
      ids = await this.xs.directory(`/libxl/${domid}/device/${kind}`);
    } catch (err) {
      if (isEnoent(err)) return 0;
      throw err;
    }
    const nums = ids.map(Number).filter((n) => Number.isInteger(n) && n >= 0);
    return nums.length ? Math.max(...nums) + 1 : 0;
  }

  /** libxl__device_generic_add: frontend, backend and libxl's copy in one transaction. */
  private async addDevice(
    domid: number,
    backendDomid: number,
    p: VdisplPaths,
    kind: string,
    roFents: readonly [string, string][],
    extraBents: readonly [string, string][],
  ): Promise<VdisplPaths> {
    const frontendPerms = [perm(domid, 'n'), perm(backendDomid, 'r')];
    const roFrontendPerms = [perm(backendDomid, 'n'), perm(domid, 'r')];
    const backendPerms = [perm(backendDomid, 'n'), perm(domid, 'r')];
    const bents: [string, string][] = [
      ['frontend-id', String(domid)],
      ['online', '1'],
      ['state', String(XenbusStateInitialising)],
    ];
    const fents: [string, string][] = [
      ['backend-id', String(backendDomid)],
      ['state', String(XenbusStateInitialising)],
    ];
    await this.xs.transaction(async (t) => {
      if ((await t.tryRead(p.libxl)) !== undefined) {
        throw new XenStoreError('EEXIST', p.libxl, `${kind} ${p.devid} of domain ${domid} already exists`);
      }
      await rmIfExists(t, p.libxl);
      await t.write(`${p.libxl}/frontend`, p.frontend);
      await t.write(`${p.libxl}/backend`, p.backend);

      await rmIfExists(t, p.frontend);
      await t.mkdir(p.frontend);
      await t.setPerms(p.frontend, frontendPerms);
      await t.write(`${p.frontend}/backend`, p.backend);
      for (const [k, v] of fents) {
        await t.write(`${p.frontend}/${k}`, v);
        await t.setPerms(`${p.frontend}/${k}`, frontendPerms);
      }
      for (const [k, v] of roFents) {
        await t.write(`${p.frontend}/${k}`, v);
        await t.setPerms(`${p.frontend}/${k}`, roFrontendPerms);
      }

      await rmIfExists(t, p.backend);
      await t.mkdir(p.backend);
      await t.setPerms(p.backend, backendPerms);
      await t.write(`${p.backend}/frontend`, p.frontend);
      for (const [k, v] of [...bents, ...extraBents]) await t.write(`${p.backend}/${k}`, v);
      for (const [k, v] of bents) await t.write(`${p.libxl}/${k}`, v);
    });
    return p;
  }

  /** The vdispl device ids libxl has for a domain, with their backend paths. */
  listVdispl(domid: number): Promise<VdisplPaths[]> {
    return this.listDevices(domid, 'vdispl');
  }

  private async listDevices(domid: number, kind: string): Promise<VdisplPaths[]> {
    let ids: string[];
    try {
      ids = await this.xs.directory(`/libxl/${domid}/device/${kind}`);
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
    const out: VdisplPaths[] = [];
    for (const id of ids) {
      const libxl = `/libxl/${domid}/device/${kind}/${id}`;
      const backend = await this.xs.tryRead(`${libxl}/backend`);
      const frontend = await this.xs.tryRead(`${libxl}/frontend`);
      if (backend && frontend) out.push({ devid: Number(id), backend, frontend, libxl });
    }
    return out;
  }

  /**
   * Removes a device as libxl does; resolves once its nodes are gone, whatever the backend did.
   * `force` starts with the forced round, as `xl destroy` does (libxl__devices_destroy).
   */
  async removeVdispl(paths: VdisplPaths, opts: { timeoutMs?: number; force?: boolean } = {}): Promise<RemovalResult> {
    const timeoutMs = opts.timeoutMs ?? LIBXL_DESTROY_TIMEOUT_MS;
    let forced = opts.force ?? false;
    let outcome: RemovalResult['outcome'];
    for (;;) {
      const started = await this.initiateRemove(paths, forced);
      outcome = started ? await this.waitBackendState(paths.backend, XenbusStateClosed, timeoutMs) : 'gone';
      if (outcome !== 'timeout' || forced) break;
      forced = true;
    }
    // libxl__device_destroy: the toolstack domain removes frontend and libxl paths, the backend's
    // domain (here also dom0's toolstack) the backend path.
    await this.xs.transaction(async (t) => {
      await pathCleanup(t, paths.frontend);
      await pathCleanup(t, paths.libxl);
      await pathCleanup(t, paths.backend);
    });
    return { outcome, forced };
  }

  /** The removal transaction; false if the backend's state node is already gone. */
  private async initiateRemove(paths: VdisplPaths, force: boolean): Promise<boolean> {
    return this.xs.transaction(async (t) => {
      if (force) await pathCleanup(t, paths.frontend);
      const state = await t.tryRead(`${paths.backend}/state`);
      if (state === undefined) return false;
      await t.write(`${paths.backend}/online`, '0');
      if (Number(state) !== XenbusStateClosed) await t.write(`${paths.backend}/state`, String(XenbusStateClosing));
      return true;
    });
  }

  /** libxl__ev_devstate_wait: watches the state node until it holds `want`, vanishes, or time runs out. */
  private async waitBackendState(
    backend: string,
    want: number,
    timeoutMs: number,
  ): Promise<'closed' | 'gone' | 'timeout'> {
    const statePath = `${backend}/state`;
    let settle!: (r: 'closed' | 'gone' | 'timeout') => void;
    const done = new Promise<'closed' | 'gone' | 'timeout'>((r) => (settle = r));
    let finished = false;
    const finish = (r: 'closed' | 'gone' | 'timeout'): void => {
      if (finished) return;
      finished = true;
      settle(r);
    };
    const timer = this.clock.setTimeout(() => finish('timeout'), timeoutMs);
    const check = (): void => {
      this.xs.tryRead(statePath).then(
        (v) => {
          if (v === undefined) finish('gone');
          else if (Number(v) === want) finish('closed');
        },
        () => finish('gone'),
      );
    };
    const watch = await this.xs.watch(statePath, check);
    try {
      return await done;
    } finally {
      this.clock.clearTimeout(timer);
      await watch.close();
    }
  }
}
