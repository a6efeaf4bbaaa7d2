// A scenario's outcome from its checks: a failed check fails it, a check the host could not judge
// blocks it (exit 2, "skipped"), never a pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verdict } from '../lib/scenario.js';

const ok = { name: 'a', ok: true, detail: '' };
const bad = { name: 'b', ok: false, detail: 'why' };
const unjudged = { name: 'bar', why: 'the idle baseline misses it too' };

void test('verdict: pass only when every check held and none was left unjudged', () => {
  assert.deepEqual(verdict([ok], []), { outcome: 'pass' });
  assert.deepEqual(verdict([ok], [unjudged]), {
    outcome: 'blocked',
    reason: 'not judged on this host: bar (the idle baseline misses it too)',
  });
  assert.deepEqual(verdict([ok, bad], [unjudged]), { outcome: 'fail', reason: 'failed checks: b' });
  assert.deepEqual(verdict([], []), { outcome: 'pass' });
});
