// dom0's input devices read directly through evdev: struct input_event records (64-bit: 16 bytes of
// time, u16 type, u16 code, s32 value) grouped by SYN_REPORT into frames, and each frame turned into
// the router's source events. Absolute devices (touchscreens: INPUT_PROP_DIRECT; tablets and
// absolute pointers such as a virtual machine's USB tablet) give positions, and touchscreens touches,
// in their axis ranges, which the router scales to the guest's screen; mice give relative motion and
// the wheel; touchpads (indirect, with a finger tool) move the pointer by their finger's deltas.
// Pure: the reading and the ioctls are in evdev-source.ts.
import type { SourceEvent } from './router.js';

export const INPUT_EVENT_SIZE = 24;
const EV_SYN = 0;
const EV_KEY = 1;
const EV_REL = 2;
const EV_ABS = 3;
const SYN_REPORT = 0;
const SYN_DROPPED = 3;
const REL_X = 0;
const REL_Y = 1;
const REL_WHEEL = 8;
const ABS_X = 0;
const ABS_Y = 1;
const ABS_MT_SLOT = 0x2f;
const ABS_MT_POSITION_X = 0x35;
const ABS_MT_POSITION_Y = 0x36;
const ABS_MT_TRACKING_ID = 0x39;
/** Touch state keys the guest must not see as buttons: the touch itself is the event. */
const BTN_TOOL_FIRST = 0x140;
const BTN_TOOL_LAST = 0x14f;
const BTN_TOUCH = 0x14a;
/** What a touchpad reports and a tablet or absolute pointer does not (udev tells them apart the same way). */
const BTN_TOOL_FINGER = 0x145;
const BTN_TOOL_PEN = 0x140;
/** Slots tracked per device (more than any guest is offered). */
const MAX_SLOTS = 16;

export interface AxisRange {
  readonly min: number;
  readonly max: number;
}

export interface EvdevCaps {
  readonly name: string;
  readonly keys: readonly number[];
  readonly rel: readonly number[];
  readonly abs: Readonly<Record<string, AxisRange>>;
  readonly direct: boolean;
}

/** What kind of source a device is; undefined: nothing the guests can use (e.g. a lid switch). */
export function classify(c: EvdevCaps): 'keyboard' | 'mouse' | 'touchscreen' | 'touchpad' | 'tablet' | undefined {
  if (c.abs[ABS_MT_POSITION_X] || c.abs[ABS_X]) {
    if (c.direct) return 'touchscreen';
    return isTouchpad(c) ? 'touchpad' : 'tablet';
  }
  if (c.rel.includes(REL_X)) return 'mouse';
  if (c.keys.length > 0) return 'keyboard';
  return undefined;
}

/** Indirect, with a finger tool and no pen: its positions are where the finger is on the pad, not on a screen. */
function isTouchpad(c: EvdevCaps): boolean {
  return !c.direct && c.keys.includes(BTN_TOOL_FINGER) && !c.keys.includes(BTN_TOOL_PEN);
}

interface Slot {
  id: number;
  x: number;
  y: number;
  changed: boolean;
  wasDown: boolean;
}

export class EvdevDecoder {
  private readonly out: SourceEvent[] = [];
  private dx = 0;
  private dy = 0;
  private wheel = 0;
  private absX: number | undefined;
  private absY: number | undefined;
  private absMoved = false;
  private lastPadX: number | undefined;
  private lastPadY: number | undefined;
  private slot = 0;
  private readonly slots: Slot[] = Array.from({ length: MAX_SLOTS }, () => ({
    id: -1,
    x: 0,
    y: 0,
    changed: false,
    wasDown: false,
  }));
  private dropping = false;
  /** A finger is on the touchpad (BTN_TOUCH). */
  private touching = false;
  /** Keys and buttons this device holds down, for releasing them when it goes away. */
  readonly down = new Set<number>();
  private readonly range: { x: AxisRange; y: AxisRange } | undefined;
  private readonly mtRange: { x: AxisRange; y: AxisRange } | undefined;

  /** Positions go to the guest as they are (scaled): everything absolute but a touchpad. */
  private readonly absolute: boolean;

  constructor(private readonly caps: EvdevCaps) {
    this.absolute = !isTouchpad(caps);
    const ax = caps.abs[ABS_X];
    const ay = caps.abs[ABS_Y];
    this.range = ax && ay ? { x: ax, y: ay } : undefined;
    const mx = caps.abs[ABS_MT_POSITION_X];
    const my = caps.abs[ABS_MT_POSITION_Y];
    this.mtRange = mx && my ? { x: mx, y: my } : undefined;
  }

  /** Decodes whole records from `buf`; returns the events of every frame completed in it. */
  decode(buf: Uint8Array, length: number): SourceEvent[] {
    const dv = new DataView(buf.buffer, buf.byteOffset, length);
    const events: SourceEvent[] = [];
    for (let o = 0; o + INPUT_EVENT_SIZE <= length; o += INPUT_EVENT_SIZE) {
      const frame = this.push(dv.getUint16(o + 16, true), dv.getUint16(o + 18, true), dv.getInt32(o + 20, true));
      if (frame) events.push(...frame);
    }
    return events;
  }

  /** One record; a frame's events when it ends one. */
  push(type: number, code: number, value: number): SourceEvent[] | undefined {
    if (type === EV_SYN) {
      if (code === SYN_DROPPED) {
        // The kernel's buffer overflowed: what follows until the next report is partial.
        this.dropping = true;
        return undefined;
      }
      if (code !== SYN_REPORT) return undefined;
      if (this.dropping) {
        this.dropping = false;
        this.reset();
        return undefined;
      }
      return this.flush();
    }
    if (this.dropping) return undefined;
    switch (type) {
      case EV_KEY:
        if (code === BTN_TOUCH) this.touching = value !== 0;
        if (code >= BTN_TOOL_FIRST && code <= BTN_TOOL_LAST) return undefined;
        if (value === 0) {
          if (!this.down.delete(code)) return undefined;
          this.out.push({ kind: 'key', code, pressed: false });
        } else {
          this.down.add(code);
          this.out.push({ kind: 'key', code, pressed: true });
        }
        return undefined;
      case EV_REL:
        if (code === REL_X) this.dx += value;
        else if (code === REL_Y) this.dy += value;
        else if (code === REL_WHEEL) this.wheel += value;
        return undefined;
      case EV_ABS:
        this.abs(code, value);
        return undefined;
      default:
        return undefined;
    }
  }

  private abs(code: number, value: number): void {
    switch (code) {
      case ABS_X:
        this.absX = value;
        this.absMoved = true;
        return;
      case ABS_Y:
        this.absY = value;
        this.absMoved = true;
        return;
      case ABS_MT_SLOT:
        this.slot = value >= 0 && value < MAX_SLOTS ? value : -1;
        return;
      default:
    }
    const s = this.slot >= 0 ? this.slots[this.slot] : undefined;
    if (!s) return;
    if (code === ABS_MT_TRACKING_ID) s.id = value;
    else if (code === ABS_MT_POSITION_X) s.x = value;
    else if (code === ABS_MT_POSITION_Y) s.y = value;
    else return;
    s.changed = true;
  }

  private flush(): SourceEvent[] {
    const out = this.out.splice(0);
    if (this.dx !== 0 || this.dy !== 0) out.push({ kind: 'motion', dx: this.dx, dy: this.dy });
    if (this.wheel !== 0) out.push({ kind: 'wheel', steps: this.wheel });
    this.dx = this.dy = this.wheel = 0;
    if (this.caps.direct && this.mtRange) {
      const { x: rx, y: ry } = this.mtRange;
      let any = false;
      for (let i = 0; i < MAX_SLOTS; i++) {
        const s = this.slots[i]!;
        if (!s.changed) continue;
        s.changed = false;
        const down = s.id >= 0;
        const pos = { x: s.x - rx.min, y: s.y - ry.min, w: rx.max - rx.min + 1, h: ry.max - ry.min + 1 };
        if (down && !s.wasDown) out.push({ kind: 'touch', phase: 'down', id: i, ...clampPos(pos) });
        else if (down) out.push({ kind: 'touch', phase: 'motion', id: i, ...clampPos(pos) });
        else if (s.wasDown) out.push({ kind: 'touch', phase: 'up', id: i, ...clampPos(pos) });
        s.wasDown = down;
        any = true;
      }
      if (any) out.push({ kind: 'touch-frame' });
      this.absMoved = false;
    } else if (this.absMoved && this.range && this.absX !== undefined && this.absY !== undefined) {
      this.absMoved = false;
      if (this.absolute) {
        const { x: rx, y: ry } = this.range;
        out.push({
          kind: 'abs',
          ...clampPos({ x: this.absX - rx.min, y: this.absY - ry.min, w: rx.max - rx.min + 1, h: ry.max - ry.min + 1 }),
        });
      } else {
        // A touchpad: the finger's movement moves the pointer; lifting it ends the stroke.
        if (this.lastPadX !== undefined && this.lastPadY !== undefined)
          out.push({ kind: 'motion', dx: this.absX - this.lastPadX, dy: this.absY - this.lastPadY });
        this.lastPadX = this.absX;
        this.lastPadY = this.absY;
      }
    }
    if (!this.absolute && !this.touching) this.lastPadX = this.lastPadY = undefined;
    return out;
  }

  /** After dropped events: forget partial state (keys are re-learnt; the router drops unmatched releases). */
  private reset(): void {
    this.out.length = 0;
    this.dx = this.dy = this.wheel = 0;
    this.absMoved = false;
    this.lastPadX = this.lastPadY = undefined;
  }

  /** The device went away: releases for what it held. */
  releaseAll(): SourceEvent[] {
    const out: SourceEvent[] = [...this.down].map((code) => ({ kind: 'key' as const, code, pressed: false }));
    this.down.clear();
    for (let i = 0; i < MAX_SLOTS; i++) {
      const s = this.slots[i]!;
      if (s.wasDown) out.push({ kind: 'touch', phase: 'up', id: i, x: 0, y: 0, w: 1, h: 1 });
      s.wasDown = false;
      s.id = -1;
    }
    return out;
  }
}

function clampPos(p: { x: number; y: number; w: number; h: number }): { x: number; y: number; w: number; h: number } {
  const w = Math.max(1, p.w);
  const h = Math.max(1, p.h);
  return { x: Math.min(Math.max(0, p.x), w - 1), y: Math.min(Math.max(0, p.y), h - 1), w, h };
}
