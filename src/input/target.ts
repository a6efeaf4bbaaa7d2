// The seam between the input router and the devices that deliver to guests: a connected vkbd
// registers itself as a target while it is connected and is gone from the router when it closes.
import type { KbdEvent } from '../kbdif/events.js';
import type { InRingStats } from '../kbdif/shared-page.js';

export interface InputTargetInfo {
  readonly domid: number;
  readonly devId: number;
  /** The vkbd's unique-id: the vdispl connector (same guest) whose screen it belongs to. */
  readonly uniqueId: string | undefined;
  /** The pointer's coordinate space in pixels (the connector's resolution); 0 when not absolute. */
  readonly width: number;
  readonly height: number;
  /** What the frontend asked for, of what we offered. */
  readonly absPointer: boolean;
  readonly rawPointer: boolean;
  readonly multiTouch: boolean;
  /** The operator's feature-disable-* flags: what the guest has no device for. */
  readonly keyboard: boolean;
  readonly pointer: boolean;
}

export interface InputTarget extends InputTargetInfo {
  /** Puts events on the guest's ring (bounded: excess is merged or dropped, never waits). */
  send(events: readonly KbdEvent[]): void;
  /** What became of what was sent, for this connection: written to the ring, merged, dropped, waiting. */
  stats?(): InRingStats;
}

export interface InputTargets {
  /** Registers a connected device; returns its removal. */
  attach(target: InputTarget): () => void;
}
