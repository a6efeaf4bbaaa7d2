// Focus that follows the pointer: dom0's outputs that show guest screens, side by side left to
// right, make one desktop; a relative pointer (mouse, touchpad) moves across it, and the guest
// shown where it is gets the input. Pure: the screens come from the caller at each move, so a
// guest that connects, moves output or goes away changes the desktop at the next motion.

/** A guest connector on a dom0 output, in the desktop's order. */
export interface Screen {
  readonly output: string;
  readonly domid: number;
  /** The connector's unique-id: its guest's vkbd with the same unique-id gets the input. */
  readonly uniqueId: string;
  /** Its size on the desktop in pixels (the connector's resolution). */
  readonly width: number;
  readonly height: number;
}

/**
 * The operator's order first (outputs in the order the connector map names them, left to right),
 * then every other screen by output name: a stable order that does not change as guests come.
 */
export function orderScreens(screens: readonly Screen[], outputOrder: readonly string[]): Screen[] {
  const rank = (s: Screen): number => {
    const i = outputOrder.indexOf(s.output);
    return i < 0 ? outputOrder.length : i;
  };
  return [...screens]
    .filter((s) => s.width > 0 && s.height > 0)
    .sort((a, b) => rank(a) - rank(b) || (a.output < b.output ? -1 : a.output > b.output ? 1 : 0));
}

export interface PointerSpot {
  readonly screen: Screen;
  /** In the screen's pixels. */
  readonly x: number;
  readonly y: number;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

export class PointerDesktop {
  /** Desktop coordinates: x across all screens, y within the screen under the pointer. */
  private x = 0;
  private y = 0;

  /** Moves by (dx, dy) over `screens` (in order); undefined when there is no screen. */
  move(screens: readonly Screen[], dx: number, dy: number): PointerSpot | undefined {
    const total = screens.reduce((n, s) => n + s.width, 0);
    if (total === 0) return undefined;
    this.x = clamp(Math.trunc(this.x + dx), 0, total - 1);
    let x0 = 0;
    let screen = screens[0]!;
    for (const s of screens) {
      if (this.x < x0 + s.width) {
        screen = s;
        break;
      }
      x0 += s.width;
    }
    // Screens of different heights share the top edge; a lower one clamps the pointer.
    this.y = clamp(Math.trunc(this.y + dy), 0, screen.height - 1);
    return { screen, x: this.x - x0, y: this.y };
  }

  /** Where the pointer is now, without moving it. */
  at(screens: readonly Screen[]): PointerSpot | undefined {
    return this.move(screens, 0, 0);
  }
}
