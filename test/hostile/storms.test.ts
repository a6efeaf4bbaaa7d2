// The short release-storm campaign (the full one: `npm run hostile:storms`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STORMS_SHORT, stormCampaign } from './campaigns/storms.js';

void test('detach and destroy storms at 4095x2047 (short): the good guest flips on time, the loop is never held, nothing left', async () => {
  const r = await stormCampaign(STORMS_SHORT);
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
