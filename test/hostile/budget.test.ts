// The short dom0-budget campaign (the full one: `npm run hostile:budget`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUDGET_SHORT, budgetCampaign } from './campaigns/budget.js';

void test('guests at full quota plus a newcomer (short): dom0 mappings within the budget, the newcomer draws, nothing left', async () => {
  const r = await budgetCampaign(BUDGET_SHORT);
  console.log(r.text());
  assert.deepEqual(r.failures, []);
});
