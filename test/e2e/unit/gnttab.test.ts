import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { maptrackFrames, parsePins, pinTotal } from '../lib/gnttab.js';

const dump = readFileSync(new URL('./fixtures/xl-debug-keys-g.txt', import.meta.url), 'utf8');

void test("Xen's grant dump (x86 PV dom0): pins per ref of one domain, the toolstack's refs left out", () => {
  const d2 = parsePins(dump, 2);
  // the ring and event pages, mapped writable by a PV dom0: two host-write pins each
  assert.deepEqual(
    [...d2],
    [
      [8, 0x2],
      [9, 0x2],
    ],
  );
  const d1 = parsePins(dump, 1);
  assert.equal(d1.get(0x55), 0x200, 'a read-only buffer page: two host-read pins');
  assert.equal(pinTotal(0x200), 2);
  assert.equal(pinTotal(0x01020304), 10);
  assert.equal(parsePins(dump, 0).size, 0);
  assert.deepEqual(maptrackFrames(dump, 0), { frames: 2, max: 32 });
  assert.equal(maptrackFrames(dump, 7), undefined);
});
