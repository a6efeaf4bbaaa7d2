// dom0's own keyboards, mice, touchscreens and touchpads as an input source, read through evdev with
// the addon's descriptor mechanism (non-blocking reads woken by libuv, no thread per device). Why
// evdev rather than libinput: the guest runs its own input stack on the devices it is given (a
// keyboard, an absolute pointer, a touchscreen), so what it needs is the device's events, not a
// compositor's interpretation of them (acceleration, gestures, tap-to-click); evdev needs no new
// library in dom0 and no udev seat, and keeps the addon to three ioctls.
//
// Devices are grabbed (EVIOCGRAB) while a guest has focus, so dom0's console does not see what the
// guest gets, and released when no guest has it. A configured key combination moves focus to the
// next guest and, after the last, to none: the grab is released (a KVM switch). A device that goes
// away releases what it held; reading never waits and a burst is handled a bounded chunk at a time.
import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native/addon.js';
import type { FdFunctions, NativeFdPoller } from '../native/fd.js';
import { POLL_READABLE, WOULD_BLOCK } from '../native/fd.js';
import type { Logger } from '../util/log.js';
import { classify, EvdevDecoder, INPUT_EVENT_SIZE, type EvdevCaps } from './evdev-decoder.js';
import type { InputRouter, SourceEvent } from './router.js';

/** The two evdev ioctls (the addon's); tests stand in for them on a FIFO. */
export interface EvdevIoctls {
  evdevInfo(fd: number): EvdevCaps;
  evdevGrab(fd: number, on: boolean): void;
}

/** Records read per wake-up at most: a stuck device cannot hold the event loop. */
const READ_RECORDS = 64;

/** Key names for --input-switch (linux/input-event-codes.h, lower case without KEY_). */
const KEY_NAMES: Readonly<Record<string, number>> = {
  leftctrl: 29,
  rightctrl: 97,
  leftalt: 56,
  rightalt: 100,
  leftshift: 42,
  rightshift: 54,
  leftmeta: 125,
  rightmeta: 126,
  scrolllock: 70,
  pause: 119,
  sysrq: 99,
  esc: 1,
  tab: 15,
  space: 57,
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i + 1}`, 59 + i])),
  f11: 87,
  f12: 88,
};

export const DEFAULT_SWITCH_KEYS = 'leftctrl+leftalt+f12';

/** "leftctrl+leftalt+f12" to key codes; throws one line naming the bad part. */
export function parseSwitchKeys(spec: string): number[] {
  const parts = spec
    .toLowerCase()
    .split('+')
    .map((p) => p.trim());
  const out: number[] = [];
  for (const p of parts) {
    const code = KEY_NAMES[p];
    if (code === undefined)
      throw new Error(
        `--input-switch ${JSON.stringify(spec)}: unknown key ${JSON.stringify(p)} (known: ${Object.keys(KEY_NAMES).join(', ')})`,
      );
    out.push(code);
  }
  if (out.length === 0 || new Set(out).size !== out.length)
    throw new Error(`--input-switch ${JSON.stringify(spec)}: expected distinct keys joined by +`);
  return out;
}

interface Device {
  readonly path: string;
  readonly fd: number;
  readonly kind: string;
  readonly poller: NativeFdPoller;
  readonly decoder: EvdevDecoder;
  grabbed: boolean;
}

export interface EvdevSourceOptions {
  readonly router: InputRouter;
  readonly log: Logger;
  /** Device paths, or 'auto': every /dev/input/event* that is a keyboard, pointer or touch device. */
  readonly devices: readonly string[] | 'auto';
  readonly switchKeys?: readonly number[];
  /** Default: the addon's. */
  readonly ioctls?: EvdevIoctls;
}

export class EvdevSource {
  private readonly devices = new Map<string, Device>();
  private readonly buf = new Uint8Array(INPUT_EVENT_SIZE * READ_RECORDS);
  private readonly switchKeys: readonly number[];
  /** Keys down across all devices, for the switch combination. */
  private readonly down = new Set<number>();
  private readonly offFocus: () => void;
  /** With 'auto': devices plugged in later are picked up (udev creates their node under /dev/input). */
  private hotplug: FSWatcher | undefined;
  private closed = false;

  constructor(private readonly opts: EvdevSourceOptions) {
    this.switchKeys = opts.switchKeys ?? parseSwitchKeys(DEFAULT_SWITCH_KEYS);
    this.offFocus = opts.router.onFocus((f) => this.setGrab(f !== undefined));
    const paths = opts.devices === 'auto' ? listEventDevices() : opts.devices;
    for (const p of paths) this.open(p);
    if (opts.devices === 'auto') {
      try {
        this.hotplug = watch(INPUT_DIR, (_event, name) => {
          const n = typeof name === 'string' ? name : undefined;
          // udev sets the node's permissions just after creating it: look a moment later.
          if (n && /^event\d+$/.test(n)) setTimeout(() => this.plugged(join(INPUT_DIR, n)), 200).unref();
        });
        this.hotplug.on('error', () => this.hotplug?.close());
      } catch (err) {
        opts.log.warn(`input: not watching ${INPUT_DIR} for new devices: ${(err as Error).message}`);
      }
    }
  }

  private plugged(path: string): void {
    if (this.closed || this.devices.has(path) || !listEventDevices().includes(path)) return;
    this.open(path);
  }

  list(): { path: string; kind: string; grabbed: boolean }[] {
    return [...this.devices.values()].map((d) => ({ path: d.path, kind: d.kind, grabbed: d.grabbed }));
  }

  private fns(): FdFunctions {
    return native() as unknown as FdFunctions;
  }

  private ioctls(): EvdevIoctls {
    return this.opts.ioctls ?? (native() as unknown as EvdevIoctls);
  }

  private open(path: string): void {
    const n = this.fns();
    let fd: number;
    try {
      fd = n.openDevice(path, false, true, 'input');
    } catch (err) {
      this.opts.log.warn(`input: cannot open ${path}: ${(err as Error).message}`);
      return;
    }
    try {
      const caps = this.ioctls().evdevInfo(fd);
      const kind = classify(caps);
      if (!kind) {
        n.closeDevice(fd);
        return;
      }
      const decoder = new EvdevDecoder(caps);
      const poller = new n.FdPoller(fd, (status) => this.readable(path, status));
      const dev: Device = { path, fd, kind, poller, decoder, grabbed: false };
      this.devices.set(path, dev);
      poller.start(POLL_READABLE);
      poller.unref();
      if (this.opts.router.focus) this.grab(dev, true);
      this.opts.log.info({ path, kind, name: caps.name }, `input: ${kind} ${JSON.stringify(caps.name)} at ${path}`);
    } catch (err) {
      n.closeDevice(fd);
      this.opts.log.warn(`input: ${path} is not an evdev device: ${(err as Error).message}`);
    }
  }

  private readable(path: string, status: number): void {
    const dev = this.devices.get(path);
    if (!dev || this.closed) return;
    if (status < 0) return this.gone(dev, `poll error ${status}`);
    let r: number;
    try {
      r = this.fns().readFd(dev.fd, this.buf, 0, this.buf.length);
    } catch (err) {
      return this.gone(dev, (err as Error).message);
    }
    if (r === WOULD_BLOCK) return;
    if (r <= 0) return this.gone(dev, 'end of file');
    this.handle(dev.decoder.decode(this.buf, r - (r % INPUT_EVENT_SIZE)));
  }

  private handle(events: SourceEvent[]): void {
    if (events.length === 0) return;
    const forward: SourceEvent[] = [];
    for (const e of events) {
      if (e.kind === 'key') {
        if (e.pressed) this.down.add(e.code);
        else this.down.delete(e.code);
        const last = this.switchKeys[this.switchKeys.length - 1];
        if (e.pressed && e.code === last && this.switchKeys.every((k) => this.down.has(k))) {
          this.opts.router.deliver(forward.splice(0));
          this.switchFocus();
          continue;
        }
      }
      forward.push(e);
    }
    this.opts.router.deliver(forward);
  }

  /**
   * Next guest; after the last, nobody (the grab is released). When focus follows the pointer: dom0
   * gets its devices back, and at the next press the guest under the pointer gets them again.
   */
  private switchFocus(): void {
    const r = this.opts.router;
    if (r.followsPointer) {
      const on = r.togglePointerFocus();
      const f = r.focus;
      this.opts.log.info(
        on
          ? `input: focus follows the pointer again${f ? ` (dom${f.domid} vkbd ${f.devId})` : ''}`
          : 'input: focus released (dom0 has the devices) until the switch keys are pressed again',
      );
      return;
    }
    const all = r.list();
    const at = all.findIndex((t) => t.focused);
    if (all.length === 0 || at === all.length - 1) r.unfocus();
    else r.focusOn(all[at + 1]!.domid, all[at + 1]!.devId);
    const f = r.focus;
    this.opts.log.info(
      f ? `input: focus on dom${f.domid} vkbd ${f.devId}` : 'input: focus released (dom0 has the devices)',
    );
  }

  private setGrab(on: boolean): void {
    for (const d of this.devices.values()) this.grab(d, on);
  }

  private grab(d: Device, on: boolean): void {
    if (d.grabbed === on) return;
    try {
      this.ioctls().evdevGrab(d.fd, on);
      d.grabbed = on;
    } catch (err) {
      this.opts.log.warn(`input: cannot ${on ? 'grab' : 'release'} ${d.path}: ${(err as Error).message}`);
    }
  }

  /** Unplugged (or failing): what it held is released in the guest that has it, then it is closed. */
  private gone(dev: Device, why: string): void {
    this.opts.log.info(`input: ${dev.path} went away (${why})`);
    const releases = dev.decoder.releaseAll();
    for (const e of releases) if (e.kind === 'key') this.down.delete(e.code);
    this.opts.router.deliver(releases);
    this.closeDevice(dev);
  }

  private closeDevice(dev: Device): void {
    this.devices.delete(dev.path);
    dev.poller.close();
    this.fns().closeDevice(dev.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offFocus();
    this.hotplug?.close();
    for (const d of [...this.devices.values()]) {
      this.grab(d, false);
      this.closeDevice(d);
    }
  }
}

const INPUT_DIR = '/dev/input';

function listEventDevices(): string[] {
  try {
    return readdirSync(INPUT_DIR)
      .filter((n) => /^event\d+$/.test(n))
      .map((n) => join(INPUT_DIR, n));
  } catch {
    return [];
  }
}
