// The short ring campaign (the full one: `npm run hostile:ring`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGNS } from './campaigns/index.js';

void test('ring campaign (short): passes every criterion', async () => {
  const r = await CAMPAIGNS.ring({ short: true });
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
