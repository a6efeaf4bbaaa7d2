// The short coverage-guided fuzz run (the long one: `npm run fuzz`): the checked-in corpus replays
// without a finding, then two seconds of mutation per target find nothing either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzTargets } from '../../fuzz/run.js';

void test('coverage-guided fuzzing of src/displif and src/kbdif (short): corpus replays clean, no finding', async () => {
  const figures = await fuzzTargets({ seconds: 2, save: false, seed: Date.now() & 0xffff });
  for (const f of figures) console.log(JSON.stringify(f));
  assert.deepEqual(
    figures.map((f) => f.target),
    ['requests', 'back-ring', 'event-page', 'page-directory', 'xenstore-fields', 'kbd-page', 'kbd-fields'],
  );
  for (const f of figures) {
    assert.equal(f.finding, undefined, `${f.target}: ${f.finding}`);
    assert.ok(f.corpusBefore > 0, `${f.target}: a corpus is checked in`);
    assert.ok(f.armsReached > 10, `${f.target}: reaches branch arms (${f.armsReached})`);
  }
});
