// Syscalls per wake-up of the event-channel hub: in a PV dom0 each one bounces through Xen, so a
// short read (the kernel's queue drained) must not be followed by a read that only hears EAGAIN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeEvtchn } from '../../src/native/xen-devices.js';
import type { NativeFdPoller } from '../../src/native/fd.js';
import { EventChannelHub, PORTS_PER_READ } from '../../src/xen/linux/event-channels.js';
import { domId, evtchnPort } from '../../src/util/ids.js';

function hubWith(queue: number[][]): { reads: () => number; fired: number[]; wake: () => void; hub: EventChannelHub } {
  let reads = 0;
  let next = 10;
  const dev: NativeEvtchn = {
    fd: 7,
    bindInterdomain: () => next++,
    notify: () => {},
    unbind: () => {},
    restrictDomid: () => {},
    readPending: () => {
      reads++;
      return Uint32Array.from(queue.shift() ?? []);
    },
    unmask: () => {},
    close: () => {},
  };
  const poller: NativeFdPoller = { start: () => {}, stop: () => {}, ref: () => {}, unref: () => {}, close: () => {} };
  let wake: (() => void) | undefined;
  const hub = new EventChannelHub(
    dev,
    (_fd, cb) => {
      wake = () => cb(0, 1);
      return poller;
    },
    (e) => {
      throw e;
    },
  );
  const fired: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = hub.bind(domId(1), evtchnPort(i), () => fired.push(port.localPort));
  }
  return { reads: () => reads, fired, wake: () => wake?.(), hub };
}

void test('a short read drains the queue: one read per wake-up', () => {
  const h = hubWith([[10, 11]]);
  h.wake();
  assert.equal(h.reads(), 1);
  assert.deepEqual(h.fired, [10, 11]);
  h.hub.close();
});

void test('a full read may have left ports behind: read again', () => {
  const full = Array.from({ length: PORTS_PER_READ }, (_, i) => (i % 2 ? 10 : 11));
  const h = hubWith([full, [12]]);
  h.wake();
  assert.equal(h.reads(), 2);
  assert.deepEqual(h.fired.sort(), [10, 11, 12]);
  h.hub.close();
});
