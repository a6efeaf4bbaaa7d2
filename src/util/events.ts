// The one event style of vdispld's seams (outputs, devices, connections, ring channels): an object
// exposes `readonly events`, a Node EventEmitter typed by an interface of event name → arguments,
// next to its methods. Listeners run synchronously, in the order they were added, and must not
// throw. No seam emits 'error' (an EventEmitter throws one nobody listens to): failures are
// events of their own ('broken', 'violation', 'master-lost') or errno-carrying rejections.
import { EventEmitter } from 'node:events';

/** A new emitter for the event map `T`. */
export function emitter<T extends Record<keyof T, unknown[]>>(): EventEmitter<T> {
  return new EventEmitter<T>();
}
