// The short request-fuzzing campaign (the full one: `npm run hostile:requests`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUESTS_SHORT, requestCampaign } from './campaigns/requests.js';

void test('request fuzzing (short): daemon alive, good guest on time, every hostile request answered, nothing left', async () => {
  const r = await requestCampaign(REQUESTS_SHORT);
  console.log(r.text());
  assert.deepEqual(r.failures, []);
  assert.ok(Number(r.figures['hostile requests']) >= REQUESTS_SHORT.requests);
});
