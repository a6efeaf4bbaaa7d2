// Stacking a layout's layers on overlay planes by zpos (plane-stack.ts): mutable ranges set in the
// layout's order above the primary, immutable values taken as they are, planes a layer does not
// fit skipped (a backtracking search), and every stacking the planes cannot show refused with a reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DrmPlane, DrmProperty } from '../../src/native/drm-device.js';
import { stackDepth, stackLayers, zposOf } from '../../src/drm/kms/plane-stack.js';

let nextId = 1;
function plane(zpos?: { value: number; min?: number; max?: number; immutable?: boolean }): DrmPlane {
  const props: DrmProperty[] = zpos
    ? [
        {
          id: 900 + nextId,
          name: 'zpos',
          value: BigInt(zpos.value),
          flags: 2 | (zpos.immutable ? 4 : 0),
          enums: [],
          values: zpos.immutable
            ? [BigInt(zpos.value), BigInt(zpos.value)]
            : [BigInt(zpos.min ?? 0), BigInt(zpos.max ?? 0)],
        },
      ]
    : [];
  return { id: nextId++, crtcId: 0, fbId: 0, possibleCrtcs: 1, formats: [], props };
}

void test('zpos: mutable ranges, immutable values', () => {
  assert.deepEqual(zposOf(plane({ value: 2, min: 1, max: 4 })), { propId: 901, min: 1n, max: 4n, mutable: true });
  const fixed = zposOf(plane({ value: 3, immutable: true }))!;
  assert.deepEqual([fixed.min, fixed.max, fixed.mutable], [3n, 3n, false]);
  assert.equal(zposOf(plane()), undefined);
});

void test('no zpos anywhere: the overlays in the card order above the primary', () => {
  const [p, a, b] = [plane(), plane(), plane()];
  const s = stackLayers(p, [a, b], 2);
  assert.ok(typeof s !== 'string');
  assert.deepEqual(s.planes, [
    { plane: a, zpos: undefined },
    { plane: b, zpos: undefined },
  ]);
  assert.equal(s.primaryZpos, undefined);
  assert.equal(stackDepth(p, [a, b]), 2);
  // Only the lower plane fits the top layer: nothing can go under it.
  assert.match(String(stackLayers(p, [a, b], 2, (i, x) => i === 0 || x === a)), /cannot stack 2 guests/);
});

void test('mutable and immutable mixed: the lowest zpos first, backtracking where a layer fits one plane only', () => {
  const p = plane({ value: 2, min: 0, max: 5 });
  const fixed = plane({ value: 3, immutable: true });
  const range = plane({ value: 5, min: 1, max: 5 });
  const s = stackLayers(p, [fixed, range], 2);
  assert.ok(typeof s !== 'string');
  assert.equal(s.primaryZpos, 0n, 'the primary at its lowest');
  assert.deepEqual(
    s.planes.map((x) => [x.plane.id, x.zpos]),
    [
      [range.id, 1n],
      [fixed.id, undefined],
    ],
  );
  // The bottom layer fits the fixed plane only: the range goes above it.
  const t = stackLayers(p, [fixed, range], 2, (i, x) => i !== 0 || x === fixed);
  assert.ok(typeof t !== 'string');
  assert.deepEqual(
    t.planes.map((x) => [x.plane.id, x.zpos]),
    [
      [fixed.id, undefined],
      [range.id, 4n],
    ],
  );
  assert.match(String(stackLayers(p, [fixed, range], 3)), /3 guests for 2 overlay planes/);
});

void test('immutable planes under the primary or at one zpos are not stacked on', () => {
  const p = plane({ value: 1, immutable: true });
  const under = plane({ value: 0, immutable: true });
  const above = plane({ value: 2, immutable: true });
  const twin = plane({ value: 2, immutable: true });
  assert.equal(stackDepth(p, [under, above]), 1);
  assert.equal(stackDepth(p, [above, twin]), 1, 'equal zpos: an undefined order');
  assert.equal(stackDepth(p, [under]), 0);
  // An overlay without zpos where the others have one has no known place.
  assert.equal(stackDepth(p, [plane(), above]), 1);
});
