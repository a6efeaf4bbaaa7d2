// The rectangles and sizes the daemon passes around, named once: a connector's resolution, a
// guest's SET_CONFIG, what an output shows and where it reads it from are all these shapes.

/** A width x height in pixels (a resolution, a framebuffer's or a mode's size). */
export interface Size {
  readonly width: number;
  readonly height: number;
}

/** A rectangle: its top-left pixel (x, y) and its size. */
export interface Rect extends Size {
  readonly x: number;
  readonly y: number;
}

/**
 * A viewport on a connector and where its first pixel comes from in the framebuffer: Linux
 * xen-drm-front's multi-head SET_CONFIG shows a region starting at (srcX, srcY); absent is (0, 0).
 */
export interface SourcedRect extends Rect {
  readonly srcX?: number;
  readonly srcY?: number;
}

/** Where a connector's picture sits on a physical output that shows several (a layout). */
export interface LayoutPlace {
  /** The physical output's size now. */
  readonly output: Size;
  /** The connector's rectangle on it. */
  readonly rect: Rect;
  /** true: the connector's resolution is scaled to the rectangle; false: 1:1 from its top-left, clipped. */
  readonly scaled: boolean;
  /** Stacking on that output: a higher one is drawn over a lower one where they overlap. */
  readonly z: number;
}
