// Every scenario, in the order `npm run e2e` runs them.
import type { Scenario } from '../lib/scenario.js';
import { harness } from './s0-harness.js';
import { connect } from './s1-connect.js';
import { draw } from './s2-draw.js';
import { flip } from './s3-flip.js';
import { twoConnectors } from './s4-two-connectors.js';
import { restarts } from './s5-restarts.js';
import { teardown } from './s6-teardown.js';
import { beAlloc } from './s7-be-alloc.js';
import { kmsDom0 } from './s8-kms-dom0.js';
import { input } from './s9-input.js';
import { routing } from './s10-routing.js';
import { grantRefs } from './s11-grant-refs.js';
import { twoGuestsOneScreen } from './s12-two-guests-one-screen.js';
import { a0Harness } from './a0-harness.js';
import { a1BeAllocZeroCopy } from './a1-be-alloc-zero-copy.js';
import { a2FrontendBuffers, a6StockExporter } from './a2-frontend-buffers.js';
import { a3ZeroCopyOff } from './a3-zero-copy-off.js';
import { a4FlipRate } from './a4-flip-rate.js';
import { a5Teardown } from './a5-teardown.js';
import { a7CompositorDmabuf } from './a7-compositor-dmabuf.js';
import { a8WestonWindow } from './a8-weston-window.js';
import { a9OverlayPlanes } from './a9-overlay-planes.js';

export const SCENARIOS: Scenario[] = [
  harness,
  connect,
  draw,
  flip,
  twoConnectors,
  restarts,
  teardown,
  beAlloc,
  kmsDom0,
  input,
  routing,
  grantRefs,
  twoGuestsOneScreen,
];

/** The Arm64 lab's scenarios (`--arch arm64`), in the order they run. */
export const ARM64_SCENARIOS: Scenario[] = [
  a0Harness,
  a1BeAllocZeroCopy,
  a2FrontendBuffers,
  a3ZeroCopyOff,
  a4FlipRate,
  a5Teardown,
  a6StockExporter,
  a7CompositorDmabuf,
  a8WestonWindow,
  a9OverlayPlanes,
];
