// The vkbd device kind for the shared XenBus machinery (device.ts): what goes with InitWait and how
// a connection opens. Pointer geometry comes from the operator's xl line (width/height) or else
// from the vdispl connector with the same unique-id in the same guest, read from the guest's
// vdispl frontend directory (toolstack-written, guest-owned: validated like everything there).
import { DRIVER_NAME, KbdField } from '../kbdif/constants.js';
import {
  formatBackendFields,
  parseFlag,
  parseSize,
  parseToolstackVkbd,
  TOOLSTACK_KEYS,
  type ServedFeatures,
  type ToolstackVkbd,
} from '../kbdif/xenstore-fields.js';
import { parseResolution, parseUniqueId, type FieldResult } from '../displif/xenstore-fields.js';
import { XsField } from '../displif/constants.js';
import type { DomId } from '../util/ids.js';
import type { Logger } from '../util/log.js';
import type { XenPlatform } from '../xen/platform.js';
import type { XenStore, XsOps } from '../xenstore/types.js';
import type { InputTargets } from '../input/target.js';
import { DeviceConfigError } from './device-config.js';
import type { DeviceProtocol } from './device-protocol.js';
import { VkbdConnection } from './vkbd-connection.js';
import type { Size } from '../util/geometry.js';

export interface VkbdEnv {
  readonly xs: XenStore;
  readonly platform: XenPlatform;
  readonly targets: InputTargets;
  readonly log: Logger;
}

async function readAll(xs: XsOps, dir: string, keys: readonly string[]): Promise<Map<string, string | undefined>> {
  const got = await Promise.all(keys.map((k) => xs.tryRead(`${dir}/${k}`)));
  return new Map(keys.map((k, i) => [k, got[i]]));
}

/** The connector with `uniqueId` among the guest's vdispl devices, or undefined. Bad entries are skipped. */
export async function findConnectorResolution(xs: XsOps, domid: DomId, uniqueId: string): Promise<Size | undefined> {
  const root = `/local/domain/${domid}/device/vdispl`;
  const list = (p: string): Promise<string[]> => xs.directory(p).catch(() => []);
  // A guest can have many nodes; a real one has up to a few devices of up to 4 connectors.
  for (const dev of (await list(root)).filter((d) => /^\d{1,9}$/.test(d)).slice(0, 16)) {
    for (const i of (await list(`${root}/${dev}`)).filter((c) => /^\d$/.test(c))) {
      const base = `${root}/${dev}/${i}`;
      const [id, res] = await Promise.all([
        xs.tryRead(`${base}/${XsField.UNIQUE_ID}`),
        xs.tryRead(`${base}/${XsField.RESOLUTION}`),
      ]);
      const u = parseUniqueId(`${base}/${XsField.UNIQUE_ID}`, id);
      if (!u.ok || u.value !== uniqueId) continue;
      const r = parseResolution(`${base}/${XsField.RESOLUTION}`, res);
      if (r.ok) return r.value;
    }
  }
  return undefined;
}

function take<T>(r: FieldResult<T>, fault: 'config' | 'frontend'): T {
  if (!r.ok) throw new DeviceConfigError(r.error, fault);
  return r.value;
}

export function vkbdProtocol(env: VkbdEnv): DeviceProtocol {
  return {
    frontendClass: 'vkbd',
    readyWhenConnected: true,
    async initWaitFields(domid, devId, bePath) {
      const values = await readAll(env.xs, bePath, TOOLSTACK_KEYS);
      const ts = parseToolstackVkbd(bePath, (k) => values.get(k));
      // A bad toolstack value fails the device at connect; meanwhile offer nothing absolute.
      if (!ts.ok) return formatBackendFields({ width: 0, height: 0, absolute: false });
      const f = await served(env.xs, domid, ts.value);
      if (!f.absolute && ts.value.uniqueId !== undefined && ts.value.width === undefined)
        void offerWhenConnector(env, domid, devId, bePath, ts.value.uniqueId);
      return formatBackendFields(f);
    },
    async open(r) {
      const be = await readAll(env.xs, r.bePath, [...TOOLSTACK_KEYS, KbdField.FEAT_ABS_POINTER]);
      const ts = take(
        parseToolstackVkbd(r.bePath, (k) => be.get(k)),
        'config',
      );
      // What the guest saw: our own published keys (the guest cannot write the backend directory).
      const absolute = take(
        parseFlag(`${r.bePath}/${KbdField.FEAT_ABS_POINTER}`, be.get(KbdField.FEAT_ABS_POINTER)),
        'config',
      );
      const width = take(parseSize(`${r.bePath}/${KbdField.WIDTH}`, be.get(KbdField.WIDTH)), 'config');
      const height = take(parseSize(`${r.bePath}/${KbdField.HEIGHT}`, be.get(KbdField.HEIGHT)), 'config');
      const offered: ServedFeatures =
        absolute && width !== undefined && height !== undefined
          ? { width, height, absolute: true }
          : { width: 0, height: 0, absolute: false };
      return VkbdConnection.open({ platform: env.platform, targets: env.targets, xs: env.xs }, r, ts, offered);
    },
  };
}

/**
 * How long InitWait waits for the vdispl connector of the vkbd's unique-id to appear. libxl writes
 * vkb devices before vdispl ones (domcreate_launch_dm, then the device table), both before the
 * domain runs, so the connector usually comes milliseconds later; nothing waits for a vkbd's
 * InitWait (libxl does not), and the guest reads the features only when its kernel probes.
 */
export const CONNECTOR_WAIT_MS = 2000;

/**
 * How long after InitWait a late connector still upgrades the offer. On the loaded x86 lab libxl
 * wrote the vdispl connector 11 s after the vkb device; it writes both before the domain runs, so
 * the guest has not probed yet when the connector comes.
 */
export const LATE_CONNECTOR_MS = 30_000;

/**
 * The connector did not come within CONNECTOR_WAIT_MS: InitWait went out without a pointer size.
 * If it comes later while the frontend has not yet probed (its state still Initialising, which
 * Linux leaves when it connects) and we are still in InitWait, the absolute pointer and touch are
 * offered then: Linux reads the features once, at probe. Nothing is written to a directory that
 * went away or a device that moved on.
 */
async function offerWhenConnector(
  env: VkbdEnv,
  domid: DomId,
  devId: number,
  bePath: string,
  uniqueId: string,
): Promise<void> {
  const t0 = Date.now();
  const res = await awaitConnector(env.xs, domid, uniqueId, LATE_CONNECTOR_MS, true).catch(() => undefined);
  if (!res) return;
  const fePath = `/local/domain/${domid}/device/${DRIVER_NAME}/${devId}`;
  const fields = formatBackendFields({ ...res, absolute: true });
  const done = await env.xs
    .transaction(async (tx) => {
      const [be, fe] = await Promise.all([
        tx.tryRead(`${bePath}/${XsField.STATE}`),
        tx.tryRead(`${fePath}/${XsField.STATE}`),
      ]);
      if (be !== '2' || (fe !== undefined && fe !== '1')) return `too late (backend state ${be}, frontend ${fe})`;
      for (const [k, v] of Object.entries(fields)) await tx.write(`${bePath}/${k}`, v);
      return undefined;
    })
    .catch((err: unknown) => `not written: ${(err as Error).message}`);
  const after = `${((Date.now() - t0) / 1000).toFixed(1)} s after InitWait`;
  if (done === undefined)
    env.log.info(
      { domid, dev: devId },
      `vkbd: connector ${uniqueId} came ${after}: pointer ${res.width}x${res.height} offered`,
    );
  else
    env.log.info(
      { domid, dev: devId },
      `vkbd: connector ${uniqueId} came ${after}, ${done}: keys and relative pointer only`,
    );
}

async function served(xs: XenStore, domid: DomId, ts: ToolstackVkbd): Promise<ServedFeatures> {
  if (ts.width !== undefined && ts.height !== undefined) return { width: ts.width, height: ts.height, absolute: true };
  if (ts.uniqueId === undefined) return { width: 0, height: 0, absolute: false };
  const res = await awaitConnector(xs, domid, ts.uniqueId, CONNECTOR_WAIT_MS);
  return res ? { ...res, absolute: true } : { width: 0, height: 0, absolute: false };
}

/** The connector's resolution as soon as it is in XenStore (a watch on the guest's vdispl devices), or undefined after `ms`. */
async function awaitConnector(
  xs: XenStore,
  domid: DomId,
  uniqueId: string,
  ms: number,
  background = false,
): Promise<{ width: number; height: number } | undefined> {
  const found = await findConnectorResolution(xs, domid, uniqueId);
  if (found) return found;
  let finish!: (r: { width: number; height: number } | undefined) => void;
  const done = new Promise<{ width: number; height: number } | undefined>((r) => (finish = r));
  const timer = setTimeout(() => finish(undefined), ms);
  // A wait in the background does not keep the process alive.
  if (background) timer.unref();
  let looking = false;
  const look = (): void => {
    if (looking) return;
    looking = true;
    findConnectorResolution(xs, domid, uniqueId).then(
      (r) => {
        looking = false;
        if (r) finish(r);
      },
      () => (looking = false),
    );
  };
  const watch = await xs.watch(`/local/domain/${domid}/device/vdispl`, look).catch(() => undefined);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
    await watch?.close().catch(() => undefined);
  }
}
