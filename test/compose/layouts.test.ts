// Layouts as dom0 writes them: parsed and refused with one line naming key and value, from every
// source (command line, file, environment, XenStore live, where a bad value keeps the old one),
// and the output map: a connector a layout names gets a slot of that output, a missing guest is a
// blank rectangle, a layout naming a connector another layout names is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLayout, layoutConflict, parseLayout, parseLayoutOption } from '../../src/backend/layouts.js';
import { OutputMap } from '../../src/backend/output-map.js';
import type { Layout } from '../../src/drm/compose/layout.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { buildProgram } from '../../src/cli.js';
import { envEntries } from '../../src/ops/config/env.js';
import { parseConfigText } from '../../src/ops/config/file.js';
import { buildLayer } from '../../src/ops/config/layer.js';
import { LiveConfig } from '../../src/ops/config/live-config.js';
import { resolve } from '../../src/ops/config/resolve.js';
import { commandLineEntries } from '../../src/ops/run-operations.js';
import type { DomId } from '../../src/util/ids.js';
import { captureLogger, waitFor, xenstored } from '../ops/helpers.js';
import { firstMismatch, flip, patternFb } from './helpers.js';

void test('layout values: entries bottom to top, 1:1 or scaled; every refusal names the key and the value', () => {
  const l = parseLayout('HDMI-A-1', ' vm1/id0@960x540+0+0 , 7/id0@960x540+960+0:scaled');
  assert.deepEqual(l.entries, [
    { key: 'vm1/id0', rect: { x: 0, y: 0, width: 960, height: 540 }, scaled: false },
    { key: '7/id0', rect: { x: 960, y: 0, width: 960, height: 540 }, scaled: true },
  ]);
  assert.equal(formatLayout(l), 'vm1/id0@960x540+0+0,7/id0@960x540+960+0:scaled');
  assert.deepEqual(parseLayoutOption('screen0=a@b/c@1x1+0+0')[1].entries[0]!.key, 'a@b/c');
  for (const [value, why] of [
    ['', /expected GUEST\/UNIQUE_ID@WxH\+X\+Y/],
    ['vm1/id0@960x540', /expected GUEST/],
    ['id0@960x540+0+0', /expected GUEST/],
    ['vm1/id0@0x540+0+0', /sizes 1\.\.16384/],
    ['vm1/id0@960x540+16000+0', /sizes 1\.\.16384/],
    ['vm1/id0@1x1+0+0,vm1/id0@1x1+1+1', /vm1\/id0 is named twice/],
    [Array.from({ length: 17 }, (_, i) => `vm${i}/a@1x1+0+0`).join(','), /17 entries, at most 16/],
  ] as const) {
    assert.throws(
      () => parseLayout('HDMI-A-1', value),
      (err: Error) =>
        err.message.startsWith(`layouts.HDMI-A-1 = ${JSON.stringify(value.slice(0, 200))}: `) &&
        why.test(err.message) &&
        !err.message.includes('\n'),
      value,
    );
  }
  assert.throws(() => parseLayoutOption('vm1/id0@1x1+0+0'), /expected OUTPUT=/);
  const two = new Map<string, Layout>([
    ['A', parseLayout('A', 'vm1/a@1x1+0+0')],
    ['B', parseLayout('B', 'vm2/a@1x1+0+0,vm1/a@1x1+1+1')],
  ]);
  assert.equal(layoutConflict(two), 'layouts.B = "vm2/a@1x1+0+0,vm1/a@1x1+1+1": vm1/a is already in layouts.A');
});

void test('layouts from the command line, the file and the environment: a higher source replaces an output layout whole', () => {
  const program = buildProgram();
  program.exitOverride();
  let cmd: import('commander').Command | undefined;
  program.commands
    .find((c) => c.name() === 'run')!
    .action((_o, c: import('commander').Command) => {
      cmd = c;
    });
  program.parse(['node', 'vdispld', 'run', '--layout', 'screen0=vm1/a@10x10+0+0,vm2/a@10x10+10+0:scaled'], {
    from: 'node',
  });
  const cli = commandLineEntries(cmd!);
  assert.deepEqual(cli, [{ key: 'layouts.screen0', value: 'vm1/a@10x10+0+0,vm2/a@10x10+10+0:scaled' }]);
  assert.throws(
    () => program.parse(['node', 'vdispld', 'run', '--layout', 'screen0=vm1/a@10x10'], { from: 'node' }),
    /layouts\.screen0 = "vm1\/a@10x10"/,
  );
  const file = parseConfigText('[layouts]\nscreen0 = "vm3/a@5x5+0+0"\nscreen1 = "vm4/a@5x5+0+0"\n', 'f.toml');
  const env = envEntries({ VDISPLD_LAYOUTS: 'screen1=vm5/a@6x6+1+1; screen2=vm6/a@7x7+0+0' });
  const r = resolve([buildLayer('file', file).layer, buildLayer('env', env).layer, buildLayer('cli', cli).layer]);
  assert.deepEqual(
    [...r.settings.layouts].map(([o, l]) => [o, formatLayout(l), r.origin.get(`layouts.${o}`)]),
    [
      ['screen0', 'vm1/a@10x10+0+0,vm2/a@10x10+10+0:scaled', 'cli'],
      ['screen1', 'vm5/a@6x6+1+1', 'env'],
      ['screen2', 'vm6/a@7x7+0+0', 'env'],
    ],
  );
  assert.deepEqual(buildLayer('file', [{ key: 'layouts.s', value: 'x' }]).problems, [
    {
      kind: 'invalid',
      key: 'layouts.s',
      message: `layouts.s = "x": "x": expected GUEST/UNIQUE_ID@WxH+X+Y[:scaled] entries separated by commas, e.g. vm1/id0@960x540+0+0`,
    },
  ]);
});

void test('XenStore layouts apply live; a value that cannot be parsed keeps the previous layout', async () => {
  const fx = await xenstored();
  const cap = captureLogger();
  const root = '/local/domain/0/vdispld';
  await fx.dom0.write(`${root}/layouts/screen0`, 'vm1/a@10x10+0+0');
  const changes: string[][] = [];
  const cfg = await LiveConfig.start({
    local: [],
    xenstore: { xs: fx.dom0, root, ownDomid: 0 },
    log: cap.log,
    onChange: (_s, c) => changes.push([...c]),
  });
  try {
    assert.equal(formatLayout(cfg.layouts.get('screen0')!), 'vm1/a@10x10+0+0');
    let n = cfg.reloads;
    await fx.dom0.write(`${root}/layouts/screen0`, 'vm1/a@20x20+5+5:scaled');
    await waitFor(
      () => cfg.reloads > n && formatLayout(cfg.layouts.get('screen0')!) === 'vm1/a@20x20+5+5:scaled',
      'the change',
    );
    assert.deepEqual(changes.at(-1), ['layouts']);
    n = cfg.reloads;
    await fx.dom0.write(`${root}/layouts/screen0`, 'vm1/a@20x20');
    await waitFor(() => cfg.reloads > n, 'the refused change');
    await cfg.settled();
    assert.equal(formatLayout(cfg.layouts.get('screen0')!), 'vm1/a@20x20+5+5:scaled', 'the previous layout stays');
    // status and metrics read the refusal until a value that parses comes
    const [refusal, ...more] = cfg.layoutRefusals.list();
    assert.deepEqual(more, []);
    assert.equal(refusal?.output, 'screen0');
    assert.equal(refusal.reason, 'unparsable');
    assert.equal(refusal.previousShown, true);
    assert.match(refusal.line, /^config: XenStore \/local\/domain\/0\/vdispld: layouts\.screen0 = "vm1\/a@20x20": /);
    assert.equal(cfg.layoutRefusals.total().unparsable, 1);
    assert.ok(
      cap
        .messages('warn')
        .some((m) => m.includes('layouts.screen0 = "vm1/a@20x20"') && m.endsWith('the previous layout stays')),
      cap.messages('warn').join('\n'),
    );
    n = cfg.reloads;
    await fx.dom0.write(`${root}/layouts/screen0`, 'vm1/a@30x30+0+0');
    await waitFor(
      () => cfg.reloads > n && formatLayout(cfg.layouts.get('screen0')!) === 'vm1/a@30x30+0+0',
      'a good value',
    );
    assert.deepEqual(cfg.layoutRefusals.list(), [], 'a value that parses ends the refusal');
    assert.equal(cfg.layoutRefusals.total().unparsable, 1);
    n = cfg.reloads;
    await fx.dom0.rm(`${root}/layouts/screen0`);
    await waitFor(() => cfg.reloads > n && !cfg.layouts.has('screen0'), 'the removal');
  } finally {
    await cfg.close();
    await fx.close();
  }
});

void test('the output map: layout connectors get slots of the composed output, blank until they come, refused conflicts keep the old layout', async () => {
  const headless = new HeadlessBackend([
    { name: 'screen0', width: 100, height: 50 },
    { name: 'screen1', width: 100, height: 50 },
  ]);
  const layouts = new Map<string, Layout>([['screen0', parseLayout('screen0', 'vm1/a@40x30+0+0,2/b@40x30+50+0')]]);
  const warnings: string[] = [];
  const outputs = new OutputMap({
    backends: [headless],
    onDemand: headless,
    connectorMap: new Map([['vm1/a', 'screen1']]),
    layouts,
    warn: (m) => warnings.push(m),
  });
  assert.deepEqual(await outputs.applyLayouts(), []);
  const screen = headless.output('screen0')!;
  const none = new Map();
  assert.equal(firstMismatch(screen.currentFrame()!.rgba, 100, 50, layouts.get('screen0')!, none), undefined);
  const ref = (domid: number, name: string, uniqueId: string) => ({
    guest: { domid: domid as DomId, name },
    devId: 0,
    index: 0,
    uniqueId,
    resolution: { width: 40, height: 30 },
  });
  // The layout wins over the connector map; a guest is named by its name or its domid.
  const a = outputs.claim(ref(1, 'vm1', 'a'));
  const b = outputs.claim(ref(2, 'vm2', 'b'));
  assert.ok(a.ok && b.ok);
  assert.equal(a.claim.output.name, 'screen0');
  assert.deepEqual(
    a.claim.output.modes.map((m) => [m.width, m.height]),
    [[40, 30]],
  );
  // The same connector again (a second device of the same guest): refused, not pre-empting.
  const again = outputs.claim(ref(1, 'vm1', 'a'));
  assert.ok(!again.ok && /already shown on screen0/.test(again.error));
  const fb = patternFb(40, 30, 3);
  await a.claim.output.setConfig({ fb, x: 0, y: 0, width: 40, height: 30 });
  assert.ok((await flip(a.claim.output, fb)).shown);
  // Another layout naming vm1/a is refused; screen1 stays as it was.
  layouts.set('screen1', parseLayout('screen1', 'vm1/a@10x10+0+0'));
  const refused = await outputs.applyLayouts();
  assert.deepEqual(refused, ['layouts.screen1 = "vm1/a@10x10+0+0": vm1/a is already in layouts.screen0']);
  assert.equal(outputs.compositions().length, 1);
  assert.deepEqual(outputs.refusals.list(), [
    { output: 'screen1', reason: 'conflict', line: refused[0], previousShown: false },
  ]);
  assert.ok(warnings.includes(`${refused[0]}; the output shows no layout`));
  // Too big for the output: refused with key and value, the previous one stays.
  layouts.delete('screen1');
  layouts.set('screen0', parseLayout('screen0', 'vm1/a@400x30+0+0'));
  assert.match(
    (await outputs.applyLayouts())[0]!,
    /^layouts\.screen0 = "vm1\/a@400x30\+0\+0": vm1\/a at 400x30\+0\+0 does not fit the output's 100x50$/,
  );
  assert.equal(formatLayout(outputs.compositions()[0]!.currentLayout), 'vm1/a@40x30+0+0,2/b@40x30+50+0');
  assert.ok(warnings.some((w) => w.endsWith('the previous layout stays')));
  // screen1's layout is no longer asked for: its refusal went; screen0's is the one now
  assert.deepEqual(
    outputs.refusals.list().map((r) => [r.output, r.reason, r.previousShown]),
    [['screen0', 'unfit', true]],
  );
  // the same value again (another layout changed) is the same refusal, counted once
  await outputs.applyLayouts();
  assert.deepEqual(outputs.refusals.total(), { unparsable: 0, conflict: 1, unfit: 1, 'output-refused': 0 });
  // The layout goes: the output stays composed (blank) until its guests let go, then is free.
  layouts.delete('screen0');
  await outputs.applyLayouts();
  assert.deepEqual(outputs.refusals.list(), [], 'no layout asked for, nothing refused');
  assert.equal(outputs.compositions().length, 1);
  a.claim.release();
  b.claim.release();
  await waitFor(() => outputs.compositions().length === 0 && !outputs.claims().has('screen0'), 'the output given back');
  const c = outputs.claim(ref(1, 'vm1', 'a'));
  assert.ok(c.ok && c.claim.output.name === 'screen1', 'the connector map applies again');
  c.claim.release();
  await outputs.closeLayouts();
  outputs.close();
  await headless.close();
  assert.deepEqual(headless.resources(), { framebuffers: 0, dmaBufImports: 0, dumbBuffers: 0 });
});
