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

export const SCENARIOS: Scenario[] = [harness, connect, draw, flip, twoConnectors, restarts, teardown, beAlloc, kmsDom0];
