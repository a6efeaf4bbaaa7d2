// The zero-copy switch from every source an operator has: the daemon's own command line
// (--zero-copy on|off, as `vdispld run` defines it), VDISPLD_ZERO_COPY, the config file and the
// XenStore subtree, with the usual precedence; a XenStore change applies live.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { addDaemonOptions } from '../../src/commands/run.js';
import { LiveConfig } from '../../src/ops/config/live-config.js';
import { loadLocalConfig } from '../../src/ops/config/load.js';
import { resolve } from '../../src/ops/config/resolve.js';
import { addOperationsOptions, commandLineEntries, prepareRun } from '../../src/ops/run-operations.js';
import { captureLogger, tempDir, waitFor, xenstored } from './helpers.js';

function runCommand(args: string[]): Command {
  const cmd = addOperationsOptions(addDaemonOptions(new Command('run')))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  cmd.action(() => undefined);
  cmd.parse(args, { from: 'user' });
  return cmd;
}

const zeroCopy = (args: string[], env: Record<string, string> = {}, configFile?: string): boolean =>
  resolve(
    loadLocalConfig({
      cli: commandLineEntries(runCommand(args)),
      env,
      ...(configFile ? { configFile } : { defaultConfigFile: '/nonexistent/vdispld.toml' }),
    }).layers,
  ).settings.zeroCopy;

void test('zero-copy: on by default; command line, environment and file each turn it off; cli > env > file', () => {
  const t = tempDir('zc');
  try {
    const off = join(t.dir, 'off.toml');
    writeFileSync(off, 'zero-copy = false\n');
    const on = join(t.dir, 'on.toml');
    writeFileSync(on, 'zero-copy = "on"\n');
    assert.equal(zeroCopy([]), true);
    assert.equal(zeroCopy(['--zero-copy', 'off']), false);
    assert.equal(zeroCopy([], { VDISPLD_ZERO_COPY: 'off' }), false);
    assert.equal(zeroCopy([], {}, off), false);
    assert.equal(zeroCopy([], { VDISPLD_ZERO_COPY: 'on' }, off), true, 'env beats the file');
    assert.equal(
      zeroCopy(['--zero-copy', 'off'], { VDISPLD_ZERO_COPY: 'on' }, on),
      false,
      'the command line beats both',
    );
    assert.deepEqual(commandLineEntries(runCommand(['--zero-copy', 'on'])), [{ key: 'zero-copy', value: 'on' }]);
    assert.throws(
      () => runCommand(['--zero-copy', 'sometimes']),
      (e: unknown) =>
        e instanceof CommanderError &&
        e.exitCode !== 0 &&
        /--zero-copy <on\|off>.*expected on or off/.test(e.message) &&
        !e.message.trim().includes('\n'),
    );
    assert.throws(
      () => loadLocalConfig({ cli: [], env: { VDISPLD_ZERO_COPY: 'sometimes' } }),
      /^ConfigError: environment: zero-copy = "sometimes": expected on or off/,
    );
  } finally {
    t.remove();
  }
});

void test('zero-copy from the XenStore subtree: read at start, changed live, the command line still wins', async () => {
  const fx = await xenstored();
  const cap = captureLogger();
  const root = '/local/domain/0/vdispld';
  await fx.dom0.write(`${root}/zero-copy`, 'off');
  const changes: string[][] = [];
  const cfg = await LiveConfig.start({
    local: [],
    xenstore: { xs: fx.dom0, root, ownDomid: 0 },
    log: cap.log,
    onChange: (_s, c) => changes.push([...c]),
  });
  // What the daemon hands the KMS backend: a view that reads the current value on every call.
  const view = (): boolean => cfg.settings.zeroCopy;
  try {
    assert.equal(view(), false);
    assert.equal(cfg.origin.get('zero-copy'), 'xenstore');
    const n = cfg.reloads;
    await fx.dom0.write(`${root}/zero-copy`, 'on');
    await waitFor(() => cfg.reloads > n && view(), 'the reload');
    assert.deepEqual(changes.at(-1), ['zeroCopy']);
    await fx.dom0.write(`${root}/zero-copy`, 'perhaps');
    await waitFor(
      () => cap.messages('warn').some((m) => m.includes('zero-copy = "perhaps": expected on or off')),
      'the warning',
    );
    assert.equal(view(), true, 'a bad value leaves the setting to the layers below (default on)');
  } finally {
    await cfg.close();
  }
  const pinned = await LiveConfig.start({
    local: loadLocalConfig({
      cli: [{ key: 'zero-copy', value: 'on' }],
      env: {},
      defaultConfigFile: '/nonexistent/vdispld.toml',
    }).layers,
    xenstore: { xs: fx.dom0, root, ownDomid: 0 },
    log: cap.log,
  });
  try {
    await fx.dom0.write(`${root}/zero-copy`, 'off');
    await waitFor(
      () => cap.messages('warn').some((m) => m.includes('sets zero-copy, but the command line overrides it')),
      'the shadow warning',
    );
    assert.equal(pinned.settings.zeroCopy, true);
  } finally {
    await pinned.close();
    await fx.close();
  }
});

void test('the daemon options `vdispld run` builds carry a live zero-copy view (what the KMS backend is opened with)', async () => {
  const fx = await xenstored();
  const t = tempDir('zcrun');
  const root = '/local/domain/0/vdispld';
  await fx.dom0.write(`${root}/zero-copy`, 'off');
  const { ops } = prepareRun(
    runCommand(['--control-socket', join(t.dir, 'control.sock'), '--log-level', 'silent', '--log-format', 'json']),
    {},
  );
  try {
    const opts = await ops.beforeStart(
      { platform: 'sim', output: 'headless', xenstore: fx.xsd.socketPath },
      { output: true, card: true },
      '0.0.0',
    );
    const zeroCopy = opts.zeroCopy;
    assert.ok(zeroCopy, 'DaemonOptions.zeroCopy is set');
    assert.equal(zeroCopy(), false, 'off, from XenStore');
    await fx.dom0.write(`${root}/zero-copy`, 'on');
    await waitFor(() => zeroCopy(), 'the live change to reach the view');
  } finally {
    await ops.stop();
    await ops.stop();
    t.remove();
    await fx.close();
  }
});
