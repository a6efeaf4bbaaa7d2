// XenStore fields of a vkbd device: the toolstack's keys, what we publish, the frontend's keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBackendFields,
  parseFlag,
  parseFrontendVkbd,
  parseToolstackVkbd,
} from '../../src/kbdif/xenstore-fields.js';

const reader =
  (m: Record<string, string>) =>
  (k: string): string | undefined =>
    m[k];
const ABS = { width: 640, height: 480, absolute: true };

void test('flags: absent off, decimal non-zero on, anything else refused with key and value', () => {
  assert.deepEqual(parseFlag('k', undefined), { ok: true, value: false });
  assert.deepEqual(parseFlag('k', '0'), { ok: true, value: false });
  assert.deepEqual(parseFlag('k', '1'), { ok: true, value: true });
  assert.deepEqual(parseFlag('k', '7'), { ok: true, value: true });
  for (const v of ['', ' 1', '01', 'yes', '0x1', '-1', '1'.repeat(70)]) {
    const r = parseFlag('/fe/request-abs-pointer', v);
    assert.ok(!r.ok && r.error.startsWith('XenStore /fe/request-abs-pointer = '), v);
  }
});

void test('the toolstack keys libxl writes for backend-type=linux', () => {
  const r = parseToolstackVkbd(
    '/be',
    reader({ 'unique-id': 'id0', width: '1024', height: '768', 'feature-disable-keyboard': '1' }),
  );
  assert.deepEqual(r, {
    ok: true,
    value: { uniqueId: 'id0', disableKeyboard: true, disablePointer: false, width: 1024, height: 768 },
  });
  assert.deepEqual(parseToolstackVkbd('/be', reader({})), {
    ok: true,
    value: { uniqueId: undefined, disableKeyboard: false, disablePointer: false, width: undefined, height: undefined },
  });
  for (const [k, v] of [
    ['unique-id', 'a b'],
    ['width', '0'],
    ['height', '70000'],
    ['feature-disable-pointer', 'x'],
  ] as const) {
    const bad = parseToolstackVkbd('/be', reader({ [k]: v }));
    assert.ok(!bad.ok && bad.error.includes(`/be/${k}`), `${k}=${v}`);
  }
});

void test('published fields: absolute pointer and touch in the screen size, or neither', () => {
  assert.deepEqual(formatBackendFields(ABS), {
    'feature-abs-pointer': '1',
    'feature-raw-pointer': '1',
    'feature-multi-touch': '1',
    width: '640',
    height: '480',
    'multi-touch-width': '640',
    'multi-touch-height': '480',
    'multi-touch-num-contacts': '10',
  });
  assert.deepEqual(formatBackendFields({ width: 0, height: 0, absolute: false }), {
    'feature-abs-pointer': '0',
    'feature-raw-pointer': '0',
    'feature-multi-touch': '0',
  });
});

void test('the frontend keys: grant, port, requests (only what was offered), obsolete page-ref refused', () => {
  const fe = {
    'page-gref': '8',
    'event-channel': '12',
    'request-abs-pointer': '1',
    'request-multi-touch': '1',
    'request-raw-pointer': '1',
    'page-ref': '123456',
  };
  assert.deepEqual(parseFrontendVkbd('/fe', reader(fe), ABS), {
    ok: true,
    value: { pageGref: 8, port: 12, absPointer: true, rawPointer: true, multiTouch: true },
  });
  assert.deepEqual(parseFrontendVkbd('/fe', reader(fe), { width: 0, height: 0, absolute: false }), {
    ok: true,
    value: { pageGref: 8, port: 12, absPointer: false, rawPointer: false, multiTouch: false },
  });
  assert.deepEqual(parseFrontendVkbd('/fe', reader({ ...fe, 'request-abs-pointer': '0' }), ABS), {
    ok: true,
    value: { pageGref: 8, port: 12, absPointer: false, rawPointer: false, multiTouch: true },
  });
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'page-ref': '5', 'event-channel': '3' }, /page-gref is missing \(only the obsolete page-ref/],
    [{ 'page-gref': '0', 'event-channel': '3' }, /grant ref 0/],
    [{ 'page-gref': '4', 'event-channel': '0' }, /port 0/],
    [{ 'page-gref': '4' }, /event-channel is missing/],
    [{ 'page-gref': '4', 'event-channel': '3', 'request-multi-touch': 'on' }, /request-multi-touch/],
  ];
  for (const [m, re] of cases) {
    const r = parseFrontendVkbd('/fe', reader(m), ABS);
    assert.ok(!r.ok && re.test(r.error), JSON.stringify(m) + (r.ok ? '' : ` -> ${r.error}`));
  }
});
