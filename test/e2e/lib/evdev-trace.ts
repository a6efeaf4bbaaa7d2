// What a guest's input devices received, from `e2e-input record`'s output (image/e2e-input.c): the
// devices by name with their axes, and per device what a program reading it sees, frame by frame
// (events up to each SYN_REPORT). Pure, so the harness's unit tests check it without a machine.

const EV_SYN = 0;
const EV_KEY = 1;
const EV_ABS = 3;
const ABS_X = 0;
const ABS_Y = 1;
const ABS_MT_SLOT = 0x2f;
const ABS_MT_POSITION_X = 0x35;
const ABS_MT_POSITION_Y = 0x36;
const ABS_MT_TRACKING_ID = 0x39;

export interface TraceEvent {
  readonly type: number;
  readonly code: number;
  readonly value: number;
}

export interface RecordedDevice {
  readonly node: string;
  readonly name: string;
  /** Absolute axes by code: [min, max]. */
  readonly abs: Map<number, [number, number]>;
  readonly events: TraceEvent[];
}

/** Parses the recorder's lines into devices by name (the first node with that name). */
export function parseRecording(text: string): Map<string, RecordedDevice> {
  const byNode = new Map<string, RecordedDevice>();
  for (const line of text.split('\n')) {
    const dev = /^dev (event\d+) (.*)$/.exec(line.trim());
    if (dev) {
      byNode.set(dev[1]!, { node: dev[1]!, name: dev[2]!, abs: new Map(), events: [] });
      continue;
    }
    const abs = /^abs (event\d+) (\d+) (-?\d+) (-?\d+)$/.exec(line.trim());
    if (abs) {
      byNode.get(abs[1]!)?.abs.set(Number(abs[2]), [Number(abs[3]), Number(abs[4])]);
      continue;
    }
    const ev = /^ev (event\d+) (\d+) (\d+) (-?\d+)$/.exec(line.trim());
    if (ev) byNode.get(ev[1]!)?.events.push({ type: Number(ev[2]), code: Number(ev[3]), value: Number(ev[4]) });
  }
  const byName = new Map<string, RecordedDevice>();
  for (const d of byNode.values()) if (!byName.has(d.name)) byName.set(d.name, d);
  return byName;
}

/** Key events as "code:value" (value 1 press, 0 release, 2 repeat). */
export function keyTrace(events: readonly TraceEvent[]): string[] {
  return events.filter((e) => e.type === EV_KEY).map((e) => `${e.code}:${e.value}`);
}

/**
 * A pointer's frames: "pos X,Y" where a frame moved it (the kernel drops an unchanged axis, so the
 * position is the state after the frame) and "key CODE:VALUE" for its buttons, in order.
 */
export function pointerTrace(events: readonly TraceEvent[]): string[] {
  const out: string[] = [];
  let x = 0;
  let y = 0;
  let moved = false;
  let keys: string[] = [];
  for (const e of events) {
    if (e.type === EV_ABS && (e.code === ABS_X || e.code === ABS_Y)) {
      if (e.code === ABS_X) x = e.value;
      else y = e.value;
      moved = true;
    } else if (e.type === EV_KEY) {
      keys.push(`key ${e.code}:${e.value}`);
    } else if (e.type === EV_SYN && e.code === 0) {
      if (moved) out.push(`pos ${x},${y}`);
      out.push(...keys);
      moved = false;
      keys = [];
    }
  }
  return out;
}

/**
 * A multi-touch device's frames: the contacts down after each frame, "slot:X,Y" in slot order,
 * joined by spaces ("" when no finger is down). Only the MT axes count; the kernel's single-touch
 * emulation (BTN_TOUCH, ABS_X/Y) follows from them.
 */
export function touchTrace(events: readonly TraceEvent[]): string[] {
  const out: string[] = [];
  const slots = new Map<number, { id: number; x: number; y: number }>();
  let slot = 0;
  let changed = false;
  const at = (s: number): { id: number; x: number; y: number } => {
    let v = slots.get(s);
    if (!v) slots.set(s, (v = { id: -1, x: 0, y: 0 }));
    return v;
  };
  for (const e of events) {
    if (e.type === EV_ABS) {
      if (e.code === ABS_MT_SLOT) slot = e.value;
      else if (e.code === ABS_MT_TRACKING_ID) at(slot).id = e.value;
      else if (e.code === ABS_MT_POSITION_X) at(slot).x = e.value;
      else if (e.code === ABS_MT_POSITION_Y) at(slot).y = e.value;
      else continue;
      changed = true;
    } else if (e.type === EV_SYN && e.code === 0 && changed) {
      changed = false;
      out.push(
        [...slots.entries()]
          .filter(([, v]) => v.id >= 0)
          .sort(([a], [b]) => a - b)
          .map(([s, v]) => `${s}:${v.x},${v.y}`)
          .join(' '),
      );
    }
  }
  return out;
}
