// The short xenstore campaign (the full one: `npm run hostile:xenstore`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGNS } from './campaigns/index.js';

void test('xenstore campaign (short): passes every criterion', async () => {
  const r = await CAMPAIGNS.xenstore({ short: true });
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
