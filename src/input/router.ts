// Routes input from dom0's sources to the one guest that has focus, translated for that guest's
// vkbd (absolute or relative pointer, raw coordinates, touch or pointer emulation). The router is
// the only way input reaches a guest, so its rules are the isolation: no focus, no delivery; a key
// is released only in the guest it was pressed in; when focus moves, every key, button and touch
// held in the old guest is released there first. Delivery is synchronous into each device's bounded
// ring queue: nothing here waits or grows with a flood.
import { BTN_LEFT, BTN_TASK, MT_NUM_CONTACTS, RAW_MAX, isDeliverableKey } from '../kbdif/constants.js';
import type { KbdEvent } from '../kbdif/events.js';
import { PointerDesktop, inScreen, type Screen } from './desktop.js';
import type { InputTarget, InputTargetInfo, InputTargets } from './target.js';

/** Input in the source's terms; positions are in a w x h space the router scales to the guest's. */
export type SourceEvent =
  | { readonly kind: 'key'; readonly code: number; readonly pressed: boolean }
  | { readonly kind: 'motion'; readonly dx: number; readonly dy: number }
  | { readonly kind: 'abs'; readonly x: number; readonly y: number; readonly w: number; readonly h: number }
  /** Wheel steps, positive away from the user (up), as evdev's REL_WHEEL. */
  | { readonly kind: 'wheel'; readonly steps: number }
  | {
      readonly kind: 'touch';
      readonly phase: 'down' | 'motion' | 'up';
      readonly id: number;
      readonly x: number;
      readonly y: number;
      readonly w: number;
      readonly h: number;
    }
  /** The end of a set of touch changes that belong together. */
  | { readonly kind: 'touch-frame' };

export interface RouterStats {
  readonly delivered: number;
  /** Source events dropped because no guest had focus. */
  readonly unfocused: number;
  /** Events the focused guest has no device for, or key codes it cannot take. */
  readonly refused: number;
  readonly focusChanges: number;
}

/** One connected vkbd's event counts, for its current connection (a reconnect starts again at 0). */
export interface TargetEvents {
  /** Events the router handed to the device (translated input and the releases focus moves send). */
  readonly sent: number;
  /** Written to the guest's ring. */
  readonly written: number;
  /** Pointer motion merged into a queued event while the guest was not consuming. */
  readonly coalesced: number;
  /** Dropped because the guest's queue was full. */
  readonly dropped: number;
  /** Waiting for room on the ring now. */
  readonly backlog: number;
}

export interface TargetStatus extends InputTargetInfo {
  readonly focused: boolean;
  readonly held: number;
  /** Increases with every connection the router sees (tells a reconnect from the same device). */
  readonly connection: number;
  readonly events: TargetEvents;
}

const isButton = (code: number): boolean => code >= BTN_LEFT && code <= BTN_TASK;
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

class Routed {
  readonly held = new Set<number>();
  readonly touches = new Set<number>();
  /** Pointer position in the guest's pixels (absolute guests). */
  px = 0;
  py = 0;
  /** The last absolute source position, for a guest with a relative pointer only. */
  last: { x: number; y: number } | undefined;
  /** The touch emulating the left button on a guest without multi-touch. */
  emulating: number | undefined;
  sent = 0;

  constructor(
    readonly t: InputTarget,
    readonly connection: number,
  ) {}

  send(events: readonly KbdEvent[]): void {
    this.sent += events.length;
    this.t.send(events);
  }

  events(): TargetEvents {
    const r = this.t.stats?.();
    return {
      sent: this.sent,
      written: r?.written ?? 0,
      coalesced: r?.coalesced ?? 0,
      dropped: r?.dropped ?? 0,
      backlog: r?.backlog ?? 0,
    };
  }

  /** A position in a w x h space as this guest's pointer coordinate. */
  scale(x: number, y: number, w: number, h: number): { x: number; y: number } {
    if (this.t.rawPointer) {
      return {
        x: clamp(Math.floor((x * (RAW_MAX + 1)) / w), 0, RAW_MAX),
        y: clamp(Math.floor((y * (RAW_MAX + 1)) / h), 0, RAW_MAX),
      };
    }
    return {
      x: clamp(Math.floor((x * this.t.width) / w), 0, this.t.width - 1),
      y: clamp(Math.floor((y * this.t.height) / h), 0, this.t.height - 1),
    };
  }

  /** Pixel scaling for touch, which has no raw mode. */
  scaleTouch(x: number, y: number, w: number, h: number): { x: number; y: number } {
    return {
      x: clamp(Math.floor((x * this.t.width) / w), 0, this.t.width - 1),
      y: clamp(Math.floor((y * this.t.height) / h), 0, this.t.height - 1),
    };
  }
}

export class InputRouter implements InputTargets {
  private readonly targets = new Map<string, Routed>();
  private focused: string | undefined;
  private delivered = 0;
  private unfocused = 0;
  private refused = 0;
  private focusChanges = 0;
  private connections = 0;
  /** Set while focus follows the pointer across dom0's outputs. */
  private pointer: { screens: () => readonly Screen[]; desktop: PointerDesktop; released: boolean } | undefined;
  private readonly listeners = new Set<(focus: InputTargetInfo | undefined) => void>();

  attach(target: InputTarget): () => void {
    const k = `${target.domid}/${target.devId}`;
    const r = new Routed(target, ++this.connections);
    this.targets.set(k, r);
    return () => {
      if (this.targets.get(k) !== r) return;
      this.targets.delete(k);
      if (this.focused === k) this.setFocus(undefined, false);
    };
  }

  /** Calls `fn` whenever focus changes (sources grab and ungrab on it). */
  onFocus(fn: (focus: InputTargetInfo | undefined) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get stats(): RouterStats {
    return {
      delivered: this.delivered,
      unfocused: this.unfocused,
      refused: this.refused,
      focusChanges: this.focusChanges,
    };
  }

  list(): TargetStatus[] {
    return [...this.targets.entries()]
      .map(([k, r]) => ({
        ...info(r.t),
        focused: k === this.focused,
        held: r.held.size + r.touches.size,
        connection: r.connection,
        events: r.events(),
      }))
      .sort((a, b) => a.domid - b.domid || a.devId - b.devId);
  }

  get focus(): InputTargetInfo | undefined {
    const r = this.focused === undefined ? undefined : this.targets.get(this.focused);
    return r ? info(r.t) : undefined;
  }

  /** Gives focus to a guest's vkbd (or to nobody). Whatever the old one held is released there. */
  focusOn(domid: number, devId: number): boolean {
    const k = `${domid}/${devId}`;
    if (!this.targets.has(k)) return false;
    this.setFocus(k, true);
    return true;
  }

  /** Takes focus away from every guest (a released grab). */
  unfocus(): void {
    this.setFocus(undefined, true);
  }

  /** Focus to the next connected vkbd in (domid, devId) order, wrapping; nobody when there is none. */
  cycle(): InputTargetInfo | undefined {
    const keys = this.list().map((s) => `${s.domid}/${s.devId}`);
    if (keys.length === 0) {
      this.setFocus(undefined, true);
      return undefined;
    }
    const at = this.focused === undefined ? -1 : keys.indexOf(this.focused);
    this.setFocus(keys[(at + 1) % keys.length], true);
    return this.focus;
  }

  /**
   * The vkbd of guest `domid` for the screen `uniqueId` (a vdispl connector's): the one with that
   * unique-id, else the guest's only vkbd when it has exactly one.
   */
  targetFor(domid: number, uniqueId: string): InputTargetInfo | undefined {
    const mine = [...this.targets.values()].filter((r) => r.t.domid === domid);
    const r = mine.find((m) => m.t.uniqueId === uniqueId) ?? (mine.length === 1 ? mine[0] : undefined);
    return r ? info(r.t) : undefined;
  }

  /** Delivers to the guest with focus; without focus nothing is delivered (and it is counted). */
  deliver(events: readonly SourceEvent[]): void {
    let r = this.focused === undefined ? undefined : this.targets.get(this.focused);
    let out: KbdEvent[] = [];
    const flush = (): void => {
      if (r && out.length > 0) {
        this.delivered += out.length;
        r.send(out);
      }
      out = [];
    };
    for (const e of events) {
      const p = this.pointer && !this.pointer.released ? this.pointer : undefined;
      if (p && (e.kind === 'motion' || e.kind === 'abs' || (e.kind === 'touch' && e.phase === 'down'))) {
        // Focus follows the pointer: the move (or an absolute device's point, or a finger put down)
        // may land on another guest's screen, or on a layout's blank, where nobody has input.
        const screens = p.screens();
        const spot =
          e.kind === 'motion' ? p.desktop.move(screens, e.dx, e.dy) : p.desktop.place(screens, e.x, e.y, e.w, e.h);
        const s = spot?.screen;
        const k = s ? this.keyFor(s.domid, s.uniqueId) : undefined;
        if (k !== this.focused) {
          flush();
          this.setFocus(k, true);
          r = k === undefined ? undefined : this.targets.get(k);
        }
        if (!r || !s) this.unfocused++;
        else if (e.kind === 'touch') this.translate(r, { ...e, x: spot!.x, y: spot!.y, w: s.width, h: s.height }, out);
        else this.translate(r, { kind: 'abs', x: spot!.x, y: spot!.y, w: s.width, h: s.height }, out);
        continue;
      }
      if (p && e.kind === 'touch' && r) {
        // A finger that went down on this guest stays with it: its moves in the guest's pixels,
        // clamped to its screen when the finger slides out of it.
        const spot = p.desktop.place(p.screens(), e.x, e.y, e.w, e.h);
        const s = spot?.tile.screens.find((x) => this.keyFor(x.domid, x.uniqueId) === this.focused);
        if (!spot || !s) this.unfocused++;
        else {
          const at = inScreen(s, spot.tx, spot.ty);
          this.translate(r, { ...e, x: at.x, y: at.y, w: s.width, h: s.height }, out);
        }
        continue;
      }
      if (!r) this.unfocused++;
      else this.translate(r, e, out);
    }
    flush();
  }

  /**
   * Focus follows the pointer from now on: relative motion moves one pointer across `screens` (the
   * guest screens on dom0's outputs, left to right) and the guest under it gets the input.
   */
  followPointer(screens: () => readonly Screen[]): void {
    this.pointer = { screens, desktop: new PointerDesktop(), released: false };
  }

  get followsPointer(): boolean {
    return this.pointer !== undefined;
  }

  /**
   * The switch key combination while focus follows the pointer: the first press gives dom0 its
   * devices back (nobody has focus, the pointer stops choosing); the next gives focus to the guest
   * under the pointer again. Returns whether guests have input now.
   */
  togglePointerFocus(): boolean {
    const p = this.pointer;
    if (!p) return false;
    p.released = !p.released;
    if (p.released) {
      this.setFocus(undefined, true);
      return false;
    }
    const s = p.desktop.at(p.screens())?.screen;
    this.setFocus(s ? this.keyFor(s.domid, s.uniqueId) : undefined, true);
    return true;
  }

  /** The key of the vkbd for guest `domid`'s screen `uniqueId` (as targetFor), or undefined. */
  private keyFor(domid: number, uniqueId: string): string | undefined {
    const t = this.targetFor(domid, uniqueId);
    return t ? `${t.domid}/${t.devId}` : undefined;
  }

  private setFocus(k: string | undefined, releaseOld: boolean): void {
    if (k === this.focused) return;
    const old = this.focused === undefined ? undefined : this.targets.get(this.focused);
    if (old) {
      const out: KbdEvent[] = [];
      for (const code of old.held) out.push({ kind: 'key', keycode: code, pressed: false });
      for (const id of old.touches) out.push({ kind: 'mt-up', contact: id });
      if (old.touches.size > 0) out.push({ kind: 'mt-syn', contact: 0 });
      old.held.clear();
      old.touches.clear();
      old.emulating = undefined;
      old.last = undefined;
      if (releaseOld && out.length > 0) old.send(out);
    }
    this.focused = k;
    this.focusChanges++;
    const f = this.focus;
    for (const l of this.listeners) l(f);
  }

  private translate(r: Routed, e: SourceEvent, out: KbdEvent[]): void {
    const t = r.t;
    switch (e.kind) {
      case 'key': {
        // Linux looks a key up in the pointer's bitmap first, then the keyboard's (PROTOCOL-NOTES, kbdif).
        const ok = isDeliverableKey(e.code) && t.pointer && (isButton(e.code) || t.keyboard);
        if (!ok) {
          this.refused++;
          return;
        }
        if (e.pressed) r.held.add(e.code);
        else if (!r.held.delete(e.code)) return; // pressed elsewhere (before focus came here): not this guest's
        out.push({ kind: 'key', keycode: e.code, pressed: e.pressed });
        return;
      }
      case 'motion': {
        if (!t.pointer) return void this.refused++;
        if (t.absPointer) {
          const max = t.rawPointer ? RAW_MAX : undefined;
          r.px = clamp(r.px + Math.trunc(e.dx), 0, max ?? t.width - 1);
          r.py = clamp(r.py + Math.trunc(e.dy), 0, max ?? t.height - 1);
          out.push({ kind: 'pos', absX: r.px, absY: r.py, relZ: 0 });
        } else {
          out.push({ kind: 'motion', relX: clampI32(e.dx), relY: clampI32(e.dy), relZ: 0 });
        }
        return;
      }
      case 'abs': {
        if (!t.pointer || e.w <= 0 || e.h <= 0) return void this.refused++;
        if (t.absPointer) {
          const p = r.scale(e.x, e.y, e.w, e.h);
          r.px = p.x;
          r.py = p.y;
          out.push({ kind: 'pos', absX: p.x, absY: p.y, relZ: 0 });
        } else {
          if (r.last)
            out.push({ kind: 'motion', relX: clampI32(e.x - r.last.x), relY: clampI32(e.y - r.last.y), relZ: 0 });
          r.last = { x: e.x, y: e.y };
        }
        return;
      }
      case 'wheel': {
        if (!t.pointer) return void this.refused++;
        // Linux reports -rel_z as REL_WHEEL.
        const z = clampI32(-e.steps);
        out.push(
          t.absPointer
            ? { kind: 'pos', absX: r.px, absY: r.py, relZ: z }
            : { kind: 'motion', relX: 0, relY: 0, relZ: z },
        );
        return;
      }
      case 'touch': {
        if (e.w <= 0 || e.h <= 0 || !Number.isInteger(e.id) || e.id < 0) return void this.refused++;
        if (t.multiTouch) {
          if (e.id >= MT_NUM_CONTACTS) return void this.refused++;
          const p = r.scaleTouch(e.x, e.y, e.w, e.h);
          if (e.phase === 'down') {
            r.touches.add(e.id);
            out.push({ kind: 'mt-down', contact: e.id, absX: p.x, absY: p.y });
          } else if (r.touches.has(e.id)) {
            if (e.phase === 'up') r.touches.delete(e.id);
            out.push(
              e.phase === 'up'
                ? { kind: 'mt-up', contact: e.id }
                : { kind: 'mt-motion', contact: e.id, absX: p.x, absY: p.y },
            );
          }
          return;
        }
        // No touch device in the guest: the first finger is the pointer with the left button.
        if (!t.absPointer || !t.pointer) return void this.refused++;
        if (e.phase === 'down' && r.emulating !== undefined) return;
        if (e.phase !== 'down' && r.emulating !== e.id) return;
        const p = r.scale(e.x, e.y, e.w, e.h);
        r.px = p.x;
        r.py = p.y;
        out.push({ kind: 'pos', absX: p.x, absY: p.y, relZ: 0 });
        if (e.phase === 'down') {
          r.emulating = e.id;
          r.held.add(BTN_LEFT);
          out.push({ kind: 'key', keycode: BTN_LEFT, pressed: true });
        } else if (e.phase === 'up') {
          r.emulating = undefined;
          if (r.held.delete(BTN_LEFT)) out.push({ kind: 'key', keycode: BTN_LEFT, pressed: false });
        }
        return;
      }
      case 'touch-frame':
        if (t.multiTouch) out.push({ kind: 'mt-syn', contact: 0 });
        return;
    }
  }
}

function clampI32(v: number): number {
  return clamp(Math.trunc(v), -0x80000000, 0x7fffffff);
}

function info(t: InputTarget): InputTargetInfo {
  return {
    domid: t.domid,
    devId: t.devId,
    uniqueId: t.uniqueId,
    width: t.width,
    height: t.height,
    absPointer: t.absPointer,
    rawPointer: t.rawPointer,
    multiTouch: t.multiTouch,
    keyboard: t.keyboard,
    pointer: t.pointer,
  };
}
