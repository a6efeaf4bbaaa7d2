// Focus that follows the pointer: dom0's outputs that show guest screens, side by side left to
// right, make one desktop; a relative pointer (mouse, touchpad) moves across it, and the guest
// shown where it is gets the input. An output showing one guest is that guest's screen; an output
// showing a layout (several guests) is as big as the composed picture, and the pointer on it
// belongs to the topmost guest rectangle under it, or to nobody over the blank between them. Pure:
// the screens come from the caller at each move, so a guest that connects, moves output or goes
// away, or a layout that changes, changes the desktop at the next motion.
import type { LayoutPlace } from '../util/geometry.js';

/** A guest connector on a dom0 output, in the desktop's order. */
export interface Screen {
  readonly output: string;
  readonly domid: number;
  /** The connector's unique-id: its guest's vkbd with the same unique-id gets the input. */
  readonly uniqueId: string;
  /** The connector's resolution (the guest's pixels). */
  readonly width: number;
  readonly height: number;
  /** Where a layout puts it on its output; absent: the output shows it alone, 1:1 from (0,0). */
  readonly place?: LayoutPlace;
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

/** One output on the desktop: its size and the screens it shows, bottom to top. */
export interface Tile {
  readonly width: number;
  readonly height: number;
  readonly screens: readonly Screen[];
}

/**
 * The desktop's outputs left to right, in the order of `screens`: the screens of one layout share
 * their output's tile (at the size composed now); any other screen is a tile of its own.
 */
export function tiles(screens: readonly Screen[]): Tile[] {
  const out: { width: number; height: number; screens: Screen[] }[] = [];
  const laidOut = new Map<string, { width: number; height: number; screens: Screen[] }>();
  for (const s of screens) {
    if (!s.place) {
      out.push({ width: s.width, height: s.height, screens: [s] });
      continue;
    }
    let t = laidOut.get(s.output);
    if (!t) {
      t = { width: s.place.output.width, height: s.place.output.height, screens: [] };
      laidOut.set(s.output, t);
      out.push(t);
    }
    t.screens.push(s);
  }
  for (const t of laidOut.values()) t.screens.sort((a, b) => a.place!.z - b.place!.z);
  return out.filter((t) => t.width > 0 && t.height > 0);
}

export interface PointerSpot {
  /** The guest screen under the pointer; undefined over a layout's blank. */
  readonly screen: Screen | undefined;
  /** In the screen's pixels (the tile's where there is no screen). */
  readonly x: number;
  readonly y: number;
  /** The tile under the pointer and the pointer's place on it (for input that stays with one guest). */
  readonly tile: Tile;
  readonly tx: number;
  readonly ty: number;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Where `screen` shows on its tile: a 1:1 picture smaller than its rectangle leaves the rest blank. */
function shownRect(s: Screen): { x: number; y: number; width: number; height: number } {
  const p = s.place;
  if (!p) return { x: 0, y: 0, width: s.width, height: s.height };
  if (p.scaled) return p.rect;
  return {
    x: p.rect.x,
    y: p.rect.y,
    width: Math.min(p.rect.width, s.width),
    height: Math.min(p.rect.height, s.height),
  };
}

/** A point of the tile in `screen`'s own pixels, clamped to it (a finger that slid out of it stays at its edge). */
export function inScreen(s: Screen, tx: number, ty: number): { x: number; y: number } {
  const r = shownRect(s);
  const scaleX = s.place?.scaled ? s.width / r.width : 1;
  const scaleY = s.place?.scaled ? s.height / r.height : 1;
  return {
    x: clamp(Math.floor((tx - r.x) * scaleX), 0, s.width - 1),
    y: clamp(Math.floor((ty - r.y) * scaleY), 0, s.height - 1),
  };
}

/** The topmost screen of `tile` showing the point, if any. */
function screenAt(tile: Tile, tx: number, ty: number): Screen | undefined {
  for (let i = tile.screens.length - 1; i >= 0; i--) {
    const s = tile.screens[i]!;
    const r = shownRect(s);
    if (tx >= r.x && tx < r.x + r.width && ty >= r.y && ty < r.y + r.height) return s;
  }
  return undefined;
}

export class PointerDesktop {
  /** Desktop coordinates: x across all tiles, y within the tile under the pointer. */
  private x = 0;
  private y = 0;

  /** Moves by (dx, dy) over `screens` (in order); undefined when there is no screen. */
  move(screens: readonly Screen[], dx: number, dy: number): PointerSpot | undefined {
    const ts = tiles(screens);
    const total = ts.reduce((n, t) => n + t.width, 0);
    if (total === 0) return undefined;
    this.x = clamp(Math.trunc(this.x + dx), 0, total - 1);
    const { tile, x0 } = this.tileAt(ts);
    // Tiles of different heights share the top edge; a lower one clamps the pointer.
    this.y = clamp(Math.trunc(this.y + dy), 0, tile.height - 1);
    return this.spot(tile, this.x - x0, this.y);
  }

  /** Where the pointer is now, without moving it. */
  at(screens: readonly Screen[]): PointerSpot | undefined {
    return this.move(screens, 0, 0);
  }

  /**
   * An absolute device (touchscreen, tablet) addresses the whole tile the pointer is on: the
   * pointer goes to (x, y) of a w x h space scaled to that tile.
   */
  place(screens: readonly Screen[], x: number, y: number, w: number, h: number): PointerSpot | undefined {
    const ts = tiles(screens);
    if (ts.length === 0 || w <= 0 || h <= 0) return undefined;
    const total = ts.reduce((n, t) => n + t.width, 0);
    this.x = clamp(this.x, 0, total - 1);
    const { tile, x0 } = this.tileAt(ts);
    const tx = clamp(Math.floor((x * tile.width) / w), 0, tile.width - 1);
    const ty = clamp(Math.floor((y * tile.height) / h), 0, tile.height - 1);
    this.x = x0 + tx;
    this.y = ty;
    return this.spot(tile, tx, ty);
  }

  private tileAt(ts: readonly Tile[]): { tile: Tile; x0: number } {
    let x0 = 0;
    for (const t of ts) {
      if (this.x < x0 + t.width) return { tile: t, x0 };
      x0 += t.width;
    }
    return { tile: ts[ts.length - 1]!, x0: x0 - ts[ts.length - 1]!.width };
  }

  private spot(tile: Tile, tx: number, ty: number): PointerSpot {
    const screen = screenAt(tile, tx, ty);
    const at = screen ? inScreen(screen, tx, ty) : { x: tx, y: ty };
    return { screen, ...at, tile, tx, ty };
  }
}
