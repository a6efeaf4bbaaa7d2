// The short soak campaign (the full one: `npm run hostile:soak`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGNS } from './campaigns/index.js';

void test('soak campaign (short): passes every criterion', async () => {
  const r = await CAMPAIGNS.soak({ short: true });
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
