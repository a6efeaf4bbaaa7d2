// What differs between the kinds of XenBus device vdispld serves. Discovery, the state table and
// the executor in device.ts are the same XenBus dance for vdispl and vkbd; a DeviceProtocol says
// what is published with InitWait, when the frontend is ready, and how a connection is opened.
import type { EventEmitter } from 'node:events';
import type { DevId, DomId } from '../util/ids.js';
import type { Logger } from '../util/log.js';
import type { RegistryCounts } from './buffer-registry.js';
import type { ConnectorStatus } from './connection.js';

/** A live connection of any kind: released by close() on every path. */
export interface ServedConnection {
  close(): Promise<void>;
  /** The display connectors it serves (none for input devices). */
  status(): ConnectorStatus[];
  counts(): RegistryCounts;
}

export interface OpenRequest {
  readonly domid: DomId;
  readonly devId: DevId;
  readonly fePath: string;
  readonly bePath: string;
  readonly log: Logger;
  /** Where the connection tells what happens to it; the device listens before opening. */
  readonly events: EventEmitter<ConnectionEvents>;
}

export interface ConnectionEvents {
  /** The frontend broke the protocol (once per connection): the device releases it and closes. */
  broken: [reason: string];
}

export interface DeviceProtocol {
  /** The device class under the guest's device/ directory ('vdispl', 'vkbd'). */
  readonly frontendClass: string;
  /**
   * The frontend also counts as ready when it is Connected while we wait in InitWait: Linux
   * xen-kbdfront goes Initialised at probe and Connected on its own when it sees InitWait.
   */
  readonly readyWhenConnected: boolean;
  /** Backend keys written in the InitWait transaction (never throws for the toolstack's values). */
  initWaitFields(domid: DomId, devId: DevId, bePath: string): Promise<Record<string, string>>;
  /**
   * Reads, validates, maps and binds. Throws DeviceConfigError (naming whose fault) or
   * RingSetupError (the frontend's) after releasing what it took.
   */
  open(req: OpenRequest): Promise<ServedConnection>;
}
