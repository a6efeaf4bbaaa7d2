// Input on a guest's window goes to that guest's vkbd, through the input router (src/input), which
// stays the only way input reaches a guest: the window taking the seat's keyboard focus gives the
// router's focus to the guest (the vkbd with the connector's unique-id), losing it takes it back if
// it is still there; keys, buttons, pointer motion and the wheel are delivered only while the
// router's focus is this window's guest (a click that activates the window is the compositor's,
// as in any click-to-focus desktop). Pointer positions are in the window's pixels, which are the
// guest's (the window is never scaled).
import type { WindowEvent } from './wayland-connection.js';

// drm and input are peers (neither imports the other): the shapes below are the part of the input
// router's seam a window uses, and the daemon, above both, hands the router in (InputRouter fits).

/** A guest's vkbd as the router names it. */
export interface WindowInputTarget {
  readonly domid: number;
  readonly devId: number;
}

/** What a window delivers, in the router's source terms (positions in a w x h space it scales). */
export type WindowInputEvent =
  | { readonly kind: 'key'; readonly code: number; readonly pressed: boolean }
  | { readonly kind: 'abs'; readonly x: number; readonly y: number; readonly w: number; readonly h: number }
  /** Wheel steps, positive away from the user (up). */
  | { readonly kind: 'wheel'; readonly steps: number };

/** The router as a window sees it. */
export interface WindowInputRouter {
  targetFor(domid: number, uniqueId: string): WindowInputTarget | undefined;
  readonly focus: WindowInputTarget | undefined;
  focusOn(domid: number, devId: number): boolean;
  unfocus(): void;
  deliver(events: readonly WindowInputEvent[]): void;
}

export class WindowInput {
  constructor(
    private readonly router: WindowInputRouter,
    private readonly domid: number,
    private readonly uniqueId: string,
    private readonly width: number,
    private readonly height: number,
  ) {}

  /** Handles the window's input events; returns false for events of another kind. */
  handle(e: WindowEvent): boolean {
    switch (e.type) {
      case 'keyboard-enter': {
        const t = this.router.targetFor(this.domid, this.uniqueId);
        if (t && !this.focused()) this.router.focusOn(t.domid, t.devId);
        return true;
      }
      case 'keyboard-leave':
        if (this.focused()) this.router.unfocus();
        return true;
      case 'key':
      case 'button':
        this.deliver({ kind: 'key', code: e.value, pressed: e.x === 1 });
        return true;
      case 'pointer-enter':
      case 'motion':
        this.deliver({ kind: 'abs', x: e.x, y: e.y, w: this.width, h: this.height });
        return true;
      case 'wheel':
        // Wayland counts steps towards the user, evdev's REL_WHEEL away from them.
        if (e.x !== 0) this.deliver({ kind: 'wheel', steps: -e.x });
        return true;
      case 'pointer-leave':
        return true;
      default:
        return false;
    }
  }

  /** Does the router's focus belong to this window's guest? */
  private focused(): boolean {
    const f = this.router.focus;
    if (!f || f.domid !== this.domid) return false;
    const t = this.router.targetFor(this.domid, this.uniqueId);
    return t !== undefined && t.devId === f.devId;
  }

  private deliver(e: WindowInputEvent): void {
    if (this.focused()) this.router.deliver([e]);
  }
}
