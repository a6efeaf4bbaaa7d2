// Input on a guest's window goes to that guest's vkbd, through the input router (src/input), which
// stays the only way input reaches a guest: the window taking the seat's keyboard focus gives the
// router's focus to the guest (the vkbd with the connector's unique-id), losing it takes it back if
// it is still there; keys, buttons, pointer motion and the wheel are delivered only while the
// router's focus is this window's guest (a click that activates the window is the compositor's,
// as in any click-to-focus desktop). Pointer positions are in the window's pixels, which are the
// guest's (the window is never scaled).
import type { InputTargetInfo } from '../../input/target.js';
import type { SourceEvent } from '../../input/router.js';
import type { WindowEvent } from './wayland-connection.js';

/** The router as a window sees it (InputRouter implements it). */
export interface WindowInputRouter {
  targetFor(domid: number, uniqueId: string): InputTargetInfo | undefined;
  readonly focus: InputTargetInfo | undefined;
  focusOn(domid: number, devId: number): boolean;
  unfocus(): void;
  deliver(events: readonly SourceEvent[]): void;
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

  private deliver(e: SourceEvent): void {
    if (this.focused()) this.router.deliver([e]);
  }
}
