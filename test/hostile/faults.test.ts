// The short faults campaign (the full one: `npm run hostile:faults`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGNS } from './campaigns/index.js';

void test('faults campaign (short): passes every criterion', async () => {
  const r = await CAMPAIGNS.faults({ short: true });
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
