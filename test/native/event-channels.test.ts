// Event channel dispatch over one evtchn descriptor, with a fake device and poller: coalescing,
// unmask-before-handle, queue overflow, a failing handler, close rules, and keeping the loop alive
// only while something is bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NativeEvtchn } from '../../src/native/xen-devices.js';
import type { NativeFdPoller } from '../../src/native/fd.js';
import { EventChannelHub } from '../../src/xen/linux/event-channels.js';
import { domId, evtchnPort } from '../../src/util/ids.js';

class FakeEvtchn implements NativeEvtchn {
  readonly fd = 42;
  next = 10;
  queue: (number[] | null)[] = [];
  log: string[] = [];
  closed = false;
  bindInterdomain(d: number, p: number): number {
    this.log.push(`bind ${d}:${p}`);
    return this.next++;
  }
  notify(port: number): void {
    this.log.push(`notify ${port}`);
  }
  unbind(port: number): void {
    this.log.push(`unbind ${port}`);
  }
  restrictDomid(): void {}
  readPending(): Uint32Array | null {
    const q = this.queue.shift();
    if (q === undefined) return new Uint32Array(0);
    return q === null ? null : Uint32Array.from(q);
  }
  unmask(ports: Uint32Array): void {
    this.log.push(`unmask ${[...ports].join(',')}`);
  }
  close(): void {
    this.closed = true;
  }
}

class FakePoller implements NativeFdPoller {
  state: string[] = [];
  start(e: number): void {
    this.state.push(`start ${e}`);
  }
  stop(): void {}
  ref(): void {
    this.state.push('ref');
  }
  unref(): void {
    this.state.push('unref');
  }
  close(): void {
    this.state.push('close');
  }
}

function setup() {
  const dev = new FakeEvtchn();
  const poller = new FakePoller();
  const errors: unknown[] = [];
  let wake: ((status: number, events: number) => void) | undefined;
  const hub = new EventChannelHub(
    dev,
    (fd, cb) => {
      assert.equal(fd, 42);
      wake = cb;
      return poller;
    },
    (e) => errors.push(e),
  );
  return { dev, poller, hub, errors, wake: () => wake?.(0, 1) };
}

void test('each fired port runs its handler once per wake-up, after it is unmasked', () => {
  const { dev, hub, wake } = setup();
  const seen: string[] = [];
  const a = hub.bind(domId(5), evtchnPort(3), () => seen.push(`a (${dev.log.at(-1)})`));
  const b = hub.bind(domId(5), evtchnPort(4), () => seen.push('b'));
  assert.equal(a.localPort, 10);
  assert.equal(b.localPort, 11);
  dev.queue = [[10, 11, 10], [10]];
  wake();
  assert.deepEqual(seen, ['a (unmask 10,11)', 'b'], 'coalesced: a once though it fired three times');
  a.notify();
  assert.equal(dev.log.at(-1), 'notify 10');
});

void test('a queue overflow wakes every bound channel; unknown ports are ignored', () => {
  const { dev, hub, wake } = setup();
  const seen: number[] = [];
  hub.bind(domId(1), evtchnPort(1), () => seen.push(1));
  hub.bind(domId(2), evtchnPort(1), () => seen.push(2));
  dev.queue = [null];
  wake();
  assert.deepEqual(seen.sort(), [1, 2]);
  seen.length = 0;
  dev.queue = [[99]];
  wake();
  assert.deepEqual(seen, []);
  assert.ok(!dev.log.includes('unmask 99'), 'a port we do not own is not written back');
});

void test('a throwing handler does not starve the others, and the error surfaces', () => {
  const { dev, hub, wake, errors } = setup();
  const seen: string[] = [];
  hub.bind(domId(1), evtchnPort(1), () => {
    throw new Error('guest 1 handler bug');
  });
  hub.bind(domId(2), evtchnPort(1), () => seen.push('guest 2'));
  dev.queue = [[10, 11]];
  wake();
  assert.deepEqual(seen, ['guest 2']);
  assert.match(String(errors[0]), /guest 1 handler bug/);
});

void test('no handler after close; the loop is kept alive only while bound; close releases all', () => {
  const { dev, poller, hub, wake } = setup();
  assert.deepEqual(poller.state, ['unref', 'start 1']);
  let calls = 0;
  const ch = hub.bind(domId(1), evtchnPort(1), () => calls++);
  assert.equal(poller.state.at(-1), 'ref');
  hub.bind(domId(2), evtchnPort(1), () => ch.close());
  dev.queue = [[11, 10]];
  wake();
  assert.equal(calls, 0, 'closed by an earlier handler in the same batch: not called');
  assert.ok(dev.log.includes('unbind 10'));
  ch.close();
  assert.equal(dev.log.filter((l) => l === 'unbind 10').length, 1, 'close is idempotent');
  hub.close();
  hub.close();
  assert.equal(poller.state.at(-1), 'close');
  assert.equal(dev.closed, true);
  assert.throws(() => hub.bind(domId(1), evtchnPort(1), () => {}), /closed/);
});
