// Reads what a device's connection needs from XenStore, once per connection, and validates all of
// it before anything is mapped: be-alloc, the connector set (resolutions, unique-ids) and the
// frontend's part (version, ring refs, ports). A failure names the key and the value and says whose
// fault it is: the toolstack's (the device stays failed) or the frontend's (it may try again). The
// connector set counts as the frontend's: libxl writes it, but into directories the guest owns, so
// the guest can remove and write them again with any value and add connectors. What is read here
// is the connection's copy; a rewrite while Connected is never read (the next connection reads it).
import { MAX_CONNECTORS, XsField } from '../displif/constants.js';
import type { ProtocolVersion } from '../displif/constants.js';
import {
  parseBeAlloc,
  parseEvtchnPort,
  parseGrantRef,
  parseResolution,
  parseUniqueId,
  parseVersion,
  type FieldResult,
  type Resolution,
} from '../displif/xenstore-fields.js';
import { Errno, ErrnoError } from '../util/errno.js';
import type { EvtchnPort, GrantRef } from '../util/ids.js';
import type { XsOps } from '../xenstore/types.js';

export interface ConnectorConfig {
  readonly index: number;
  readonly uniqueId: string;
  readonly resolution: Resolution;
  readonly reqRingRef: GrantRef;
  readonly reqPort: EvtchnPort;
  readonly evtRingRef: GrantRef;
  readonly evtPort: EvtchnPort;
}

export interface DeviceConfig {
  readonly version: ProtocolVersion;
  readonly beAlloc: boolean;
  readonly connectors: readonly ConnectorConfig[];
}

export type Fault = 'config' | 'frontend';

/**
 * A device's XenStore values cannot be served: the toolstack's ('config': the device stays failed)
 * or the frontend's ('frontend': it may try again). Not the daemon's own settings (ops/config).
 */
export class DeviceConfigError extends Error {
  constructor(
    message: string,
    readonly fault: Fault,
  ) {
    super(message);
    this.name = 'DeviceConfigError';
  }
}

/**
 * The frontend's ring pages or event channels could not be mapped or bound (a ref it did not
 * grant, a port it did not open): the frontend's fault, so it may try again. Carries the
 * platform's errno.
 */
export class RingSetupError extends ErrnoError {
  constructor(message: string, cause: unknown) {
    super(message, cause instanceof ErrnoError ? cause.errno : Errno.EIO);
  }
}

function take<T>(r: FieldResult<T>, fault: Fault): T {
  if (!r.ok) throw new DeviceConfigError(r.error, fault);
  return r.value;
}

/** The connector indices present under the frontend directory: must be 0..n-1 with 1 <= n <= 4. */
function connectorCount(children: readonly string[], fePath: string): number {
  const idx = children.filter((c) => /^\d+$/.test(c)).map(Number);
  if (idx.length === 0)
    throw new DeviceConfigError(`XenStore ${fePath}: no connectors (expected ${fePath}/0/resolution)`, 'frontend');
  if (idx.length > MAX_CONNECTORS)
    throw new DeviceConfigError(
      `XenStore ${fePath}: ${idx.length} connectors, more than ${MAX_CONNECTORS}`,
      'frontend',
    );
  idx.sort((a, b) => a - b);
  idx.forEach((v, i) => {
    if (v !== i)
      throw new DeviceConfigError(
        `XenStore ${fePath}: connector indices ${idx.slice(0, 8).join(',')} are not contiguous from 0`,
        'frontend',
      );
  });
  return idx.length;
}

/** Per connector, the keys read, in the order they are validated (so errors come in the same order). */
const CONNECTOR_KEYS = [
  XsField.RESOLUTION,
  XsField.UNIQUE_ID,
  XsField.REQ_RING_REF,
  XsField.REQ_CHANNEL,
  XsField.EVT_RING_REF,
  XsField.EVT_CHANNEL,
] as const;

/**
 * Reads and validates the whole configuration of the device whose frontend directory is `fePath`.
 * Every key is requested at once (the client pipelines them): a guest waits for Connected, and each
 * serial round trip to xenstored costs milliseconds in dom0, tens of them under emulation.
 */
export async function readDeviceConfig(xs: XsOps, fePath: string): Promise<DeviceConfig> {
  const children = await xs.directory(fePath);
  const n = connectorCount(children, fePath);
  const key = (k: string): string => `${fePath}/${k}`;
  const ck = (i: number, f: string): string => `${fePath}/${i}/${f}`;
  const paths = [key(XsField.BE_ALLOC), key(XsField.FE_VERSION)];
  for (let i = 0; i < n; i++) for (const f of CONNECTOR_KEYS) paths.push(ck(i, f));
  const values = new Map<string, string | undefined>();
  const got = await Promise.all(paths.map((p) => xs.tryRead(p)));
  paths.forEach((p, i) => values.set(p, got[i]));
  const beAlloc = take(parseBeAlloc(key(XsField.BE_ALLOC), values.get(key(XsField.BE_ALLOC))), 'config');
  const version = take(parseVersion(key(XsField.FE_VERSION), values.get(key(XsField.FE_VERSION))), 'frontend');
  const connectors: ConnectorConfig[] = [];
  for (let i = 0; i < n; i++) {
    const k = (f: string): string => ck(i, f);
    const read = (f: string): string | undefined => values.get(k(f));
    const resolution = take(parseResolution(k(XsField.RESOLUTION), read(XsField.RESOLUTION)), 'frontend');
    const uniqueId = take(parseUniqueId(k(XsField.UNIQUE_ID), read(XsField.UNIQUE_ID)), 'frontend');
    connectors.push({
      index: i,
      uniqueId,
      resolution,
      reqRingRef: take(parseGrantRef(k(XsField.REQ_RING_REF), read(XsField.REQ_RING_REF)), 'frontend'),
      reqPort: take(parseEvtchnPort(k(XsField.REQ_CHANNEL), read(XsField.REQ_CHANNEL)), 'frontend'),
      evtRingRef: take(parseGrantRef(k(XsField.EVT_RING_REF), read(XsField.EVT_RING_REF)), 'frontend'),
      evtPort: take(parseEvtchnPort(k(XsField.EVT_CHANNEL), read(XsField.EVT_CHANNEL)), 'frontend'),
    });
  }
  const ids = new Set(connectors.map((c) => c.uniqueId));
  if (ids.size !== connectors.length)
    throw new DeviceConfigError(`XenStore ${fePath}: two connectors share a unique-id`, 'frontend');
  return { version, beAlloc, connectors };
}

/** The toolstack's frontend path from the backend's `frontend` node, checked against the device's domain. */
export function checkFrontendPath(
  value: string | undefined,
  feDomid: number,
  devId: number,
  bePath: string,
  deviceClass = 'vdispl',
): string {
  const expected = `/local/domain/${feDomid}/device/${deviceClass}/${devId}`;
  if (value === undefined) throw new DeviceConfigError(`XenStore ${bePath}/frontend is missing`, 'config');
  if (value !== expected) {
    throw new DeviceConfigError(
      `XenStore ${bePath}/frontend = ${JSON.stringify(value.slice(0, 80))}: expected ${expected}`,
      'config',
    );
  }
  return value;
}
