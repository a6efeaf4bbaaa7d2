// Configuration: each source alone, their precedence, unknown keys warned once, bad values named,
// and the XenStore subtree applied live to the connector map and quotas the backend reads.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CommanderError, type Command } from 'commander';
import { BufferRegistry } from '../../src/backend/buffer-registry.js';
import { DEFAULT_QUOTAS } from '../../src/backend/quotas.js';
import { OutputMap } from '../../src/backend/output-map.js';
import { HeadlessBackend } from '../../src/drm/headless/headless-backend.js';
import { buildProgram } from '../../src/cli.js';
import { envEntries } from '../../src/ops/config/env.js';
import { parseConfigText } from '../../src/ops/config/file.js';
import { buildLayer, describeProblem, type Layer, type RawEntry } from '../../src/ops/config/layer.js';
import { LiveConfig } from '../../src/ops/config/live-config.js';
import { ConfigError, loadLocalConfig } from '../../src/ops/config/load.js';
import { parseListen } from '../../src/ops/config/listen.js';
import { resolve } from '../../src/ops/config/resolve.js';
import { foreignWriter } from '../../src/xenstore/perms.js';
import { commandLineEntries, configFileOf, optionEnvNames } from '../../src/ops/run-operations.js';
import { cookie, type DomId } from '../../src/util/ids.js';
import { captureLogger, tempDir, waitFor, xenstored } from './helpers.js';

function layer(name: Layer['name'], entries: RawEntry[]): Layer {
  const { layer: l, problems } = buildLayer(name, entries);
  assert.deepEqual(problems, []);
  return l;
}

/** `vdispld run ARGS` parsed by the real program, with the daemon's action swapped for nothing. */
function parseCli(args: string[]): Command {
  const program = buildProgram().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  const run = program.commands.find((c) => c.name() === 'run')!;
  run.configureOutput({ writeErr: () => undefined, writeOut: () => undefined }).action(() => undefined);
  program.parse(['run', ...args], { from: 'user' });
  return run;
}

void test('listen addresses: loopback unless a host is named, off, IPv6, bad ports named', () => {
  assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
  assert.equal(parseListen('off'), 'off');
  assert.throws(() => parseListen('70000'), /port 70000 is above 65535/);
  assert.throws(() => parseListen('http://x'), /expected off, PORT/);
});

void test('the file: TOML tables become connectors.* and quotas.*; syntax errors name file, line and column', () => {
  const entries = parseConfigText(
    'drm-device = "none"\nmetrics = 9464\n[connectors]\n"3/id1" = "VGA-1"\n[connectors.vm1]\nid0 = "HDMI-A-1"\n[quotas]\nbuffers = 8\n',
    'f.toml',
  );
  assert.deepEqual(entries, [
    { key: 'drm-device', value: 'none' },
    { key: 'metrics', value: 9464 },
    { key: 'connectors.3/id1', value: 'VGA-1' },
    { key: 'connectors.vm1/id0', value: 'HDMI-A-1' },
    { key: 'quotas.buffers', value: 8 },
  ]);
  // Both spellings make the same canonical keys; a key that names no guest is reported.
  const { layer: l, problems } = buildLayer('file', [...entries, { key: 'connectors.id0', value: 'DP-1' }]);
  assert.deepEqual(
    [...l.connectors],
    [
      ['3/id1', 'VGA-1'],
      ['vm1/id0', 'HDMI-A-1'],
    ],
  );
  assert.equal(problems.length, 1);
  assert.match(
    describeProblem(problems[0]!, 'f.toml'),
    /connector mapping "id0=DP-1": expected GUEST\/UNIQUE_ID=OUTPUT/,
  );
  assert.throws(() => parseConfigText('a = \n', '/etc/x.toml'), /^ConfigFileError: \/etc\/x\.toml:1:\d+: /);
});

void test('the environment: VDISPLD_<KEY>, comma lists for the maps', () => {
  const e = envEntries({
    VDISPLD_METRICS: '9000',
    VDISPLD_CONNECTORS: 'vm1/a=HDMI-A-1, vm2/b=VGA-1',
    VDISPLD_QUOTAS: 'pages=100',
    HOME: '/root',
  });
  assert.deepEqual(e, [
    { key: 'metrics', value: '9000' },
    { key: 'connectors.vm1/a', value: 'HDMI-A-1' },
    { key: 'connectors.vm2/b', value: 'VGA-1' },
    { key: 'quotas.pages', value: '100' },
  ]);
  assert.throws(
    () => envEntries({ VDISPLD_CONNECTORS: 'nonsense' }),
    /VDISPLD_CONNECTORS: "nonsense" is not KEY=VALUE/,
  );
});

void test('the command line: only typed options form the cli layer; a bad value exits with one line naming the option', () => {
  const uuid = '1B4E28BA-2FA1-11D2-883F-0016D3CCA427';
  const cmd = parseCli([
    '--metrics',
    '9100',
    '--connector',
    'vm1/id0=DP-1',
    '--connector',
    `${uuid}/id1=DP-2`,
    '--connector',
    '007/id0=DP-3',
    '--quota',
    'buffers=4,pages=64',
  ]);
  assert.deepEqual(commandLineEntries(cmd), [
    { key: 'metrics', value: '9100' },
    { key: 'connectors.vm1/id0', value: 'DP-1' },
    { key: `connectors.${uuid.toLowerCase()}/id1`, value: 'DP-2' },
    { key: 'connectors.7/id0', value: 'DP-3' },
    { key: 'quotas.buffers', value: '4' },
    { key: 'quotas.pages', value: '64' },
  ]);
  assert.deepEqual(commandLineEntries(parseCli([])), []);
  for (const [args, re] of [
    [['--quota', 'bogus=1'], /--quota <KEY=N,...>.*unknown/],
    [['--quota', 'buffers=0'], /must be at least 1/],
    [['--metrics', 'x:y:z'], /--metrics <addr>.*expected off, PORT/],
    [['--connector', 'noequals'], /--connector <GUEST\/UNIQUE_ID=OUTPUT>.*expected GUEST\/UNIQUE_ID=OUTPUT/],
    [
      ['--connector', 'id0=HDMI-A-1'],
      /--connector <GUEST\/UNIQUE_ID=OUTPUT>.*"id0=HDMI-A-1": expected GUEST\/UNIQUE_ID=OUTPUT with GUEST the domain name, UUID or domid/,
    ],
    [['--connector', '99999/id0=HDMI-A-1'], /expected GUEST\/UNIQUE_ID=OUTPUT/],
    [['--log-level', 'loud'], /--log-level <level>.*Allowed choices are fatal/],
    [['--card', '/etc/passwd'], /--card <path>.*expected a DRM device/],
    [['--zero-copy', 'sometimes'], /--zero-copy <on\|off>.*expected on or off/],
    [['--control-socket', 'relative.sock'], /--control-socket <path>.*expected an absolute path/],
    [['--log-format', 'xml'], /--log-format <format>.*expected one of auto, json, journal/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
  ] as const) {
    assert.throws(
      () => parseCli([...args]),
      (err: unknown) =>
        err instanceof CommanderError &&
        err.exitCode !== 0 &&
        re.test(err.message) &&
        !err.message.trim().includes('\n'),
      args.join(' '),
    );
  }
  assert.equal(configFileOf(parseCli([]), { VDISPLD_CONFIG: '/x.toml' }), '/x.toml');
  assert.equal(configFileOf(parseCli(['--config', '/y.toml']), { VDISPLD_CONFIG: '/x.toml' }), '/y.toml');
  assert.equal(configFileOf(parseCli([]), { VDISPLD_CONFIG: '' }), undefined, 'empty: the default path');
});

void test('precedence: default < file < xenstore < env < cli, maps merged entry by entry', () => {
  const file = layer('file', [
    { key: 'metrics', value: '1001' },
    { key: 'viewer', value: '2001' },
    { key: 'log-level', value: 'debug' },
    { key: 'unmapped', value: 'refuse' },
    { key: 'connectors.vm/a', value: 'FILE-A' },
    { key: 'connectors.vm/b', value: 'FILE-B' },
    { key: 'quotas.buffers', value: 5 },
    { key: 'quotas.pages', value: 500 },
  ]);
  const xs = layer('xenstore', [
    { key: 'metrics', value: '1002' },
    { key: 'viewer', value: '2002' },
    { key: 'connectors.vm/b', value: 'XS-B' },
    { key: 'connectors.vm/c', value: 'XS-C' },
    { key: 'quotas.pages', value: '600' },
  ]);
  const env = layer('env', [
    { key: 'metrics', value: '1003' },
    { key: 'connectors.vm/c', value: 'ENV-C' },
  ]);
  const cli = layer('cli', [{ key: 'metrics', value: '1004' }]);
  // Order of the list does not matter; the layer names do.
  const r = resolve([cli, xs, env, file]);
  const s = r.settings;
  assert.deepEqual(s.metrics, { host: '127.0.0.1', port: 1004 });
  assert.deepEqual(s.viewer, { host: '127.0.0.1', port: 2002 });
  assert.equal(s.logLevel, 'debug');
  assert.equal(s.unmapped, 'refuse');
  assert.equal(s.drmDevice, 'auto');
  assert.deepEqual([...s.connectors].sort(), [
    ['vm/a', 'FILE-A'],
    ['vm/b', 'XS-B'],
    ['vm/c', 'ENV-C'],
  ]);
  assert.equal(s.quotas.maxBuffers, 5);
  assert.equal(s.quotas.maxMappedPages, 600);
  assert.equal(s.quotas.maxFramebuffers, DEFAULT_QUOTAS.maxFramebuffers);
  assert.deepEqual(
    Object.fromEntries(
      [...r.origin].filter(([k]) =>
        [
          'metrics',
          'viewer',
          'log-level',
          'drm-device',
          'connectors.vm/a',
          'connectors.vm/b',
          'connectors.vm/c',
          'quotas.pages',
        ].includes(k),
      ),
    ),
    {
      metrics: 'cli',
      viewer: 'xenstore',
      'log-level': 'file',
      'drm-device': 'default',
      'connectors.vm/a': 'file',
      'connectors.vm/b': 'xenstore',
      'connectors.vm/c': 'env',
      'quotas.pages': 'xenstore',
    },
  );
});

void test('local load: unknown file keys are warnings, bad values stop the start naming source and key', () => {
  const t = tempDir('cfg');
  try {
    const path = join(t.dir, 'vdispld.toml');
    writeFileSync(path, 'metrics = 9464\ncolour = "blue"\n[quotas]\nbuffers = 3\n');
    const ok = loadLocalConfig({
      cli: [{ key: 'viewer', value: '8080' }],
      env: { VDISPLD_LOG_LEVEL: 'warn' },
      configFile: path,
    });
    assert.equal(ok.file, path);
    assert.deepEqual(ok.warnings, [`${path}: unknown setting "colour" ignored (see docs/OPERATIONS.md for the keys)`]);
    const s = resolve(ok.layers).settings;
    assert.deepEqual(s.metrics, { host: '127.0.0.1', port: 9464 });
    assert.equal(s.logLevel, 'warn');
    assert.equal(s.quotas.maxBuffers, 3);

    writeFileSync(path, '[quotas]\nbuffers = -1\n');
    assert.throws(
      () => loadLocalConfig({ cli: [], env: {}, configFile: path }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${path}: quota "buffers=-1"`),
    );
    assert.throws(
      () => loadLocalConfig({ cli: [], env: { VDISPLD_UNMAPPED: 'maybe' } }),
      /^ConfigError: environment: unmapped = "maybe": expected one of headless, refuse/,
    );
    assert.throws(
      () => loadLocalConfig({ cli: [], env: {}, configFile: join(t.dir, 'missing.toml') }),
      /missing\.toml: does not exist/,
    );
    // The default path may be absent.
    assert.equal(loadLocalConfig({ cli: [], env: {}, defaultConfigFile: join(t.dir, 'absent.toml') }).file, undefined);
    // A misspelt variable is named once; the settings' and the commands' own variables are not.
    const env = {
      VDISPLD_METRIC: '9464',
      VDISPLD_METRICS: '9465',
      VDISPLD_JSON: '1',
      VDISPLD_CONFIG: '',
      HOME: '/root',
    };
    const withEnv = loadLocalConfig({
      cli: [],
      env,
      knownEnv: optionEnvNames(parseCli([])),
      defaultConfigFile: join(t.dir, 'absent.toml'),
    });
    assert.deepEqual(withEnv.warnings, [
      'environment: unknown variable VDISPLD_METRIC ignored (see docs/OPERATIONS.md for the settings)',
    ]);
  } finally {
    t.remove();
  }
});

void test('XenStore node permissions: only dom0 and the backend domain may write what is believed', () => {
  assert.equal(foreignWriter([{ domid: 0, access: 'n' }], 0), undefined);
  assert.equal(
    foreignWriter(
      [
        { domid: 3, access: 'n' },
        { domid: 0, access: 'b' },
      ],
      3,
    ),
    undefined,
  );
  assert.equal(
    foreignWriter(
      [
        { domid: 0, access: 'r' },
        { domid: 7, access: 'r' },
      ],
      0,
    ),
    undefined,
  );
  assert.equal(foreignWriter([{ domid: 5, access: 'n' }], 0), 'owned by domain 5');
  assert.equal(foreignWriter([{ domid: 0, access: 'w' }], 0), 'writable by every domain');
  assert.equal(
    foreignWriter(
      [
        { domid: 0, access: 'n' },
        { domid: 7, access: 'b' },
      ],
      0,
    ),
    'writable by domain 7',
  );
});

void test('XenStore subtree: read at start, applied live to connector map and quotas, the rest at the next start', async () => {
  const fx = await xenstored();
  const cap = captureLogger();
  const root = '/local/domain/0/vdispld';
  await fx.dom0.write(`${root}/connectors/vm1/id0`, 'XS-0');
  await fx.dom0.write(`${root}/connectors/id9`, 'FLAT-9');
  await fx.dom0.write(`${root}/quotas/buffers`, '2');
  await fx.dom0.write(`${root}/viewer`, '8111');
  await fx.dom0.write(`${root}/colour`, 'blue');
  await fx.dom0.write(`${root}/control-socket`, '/tmp/evil.sock');
  const local = [
    layer('file', [{ key: 'connectors.vm1/id1', value: 'FILE-1' }]),
    layer('cli', [
      { key: 'quotas.framebuffers', value: '3' },
      { key: 'metrics', value: '9999' },
    ]),
  ];
  const changes: string[][] = [];
  const cfg = await LiveConfig.start({
    local,
    xenstore: { xs: fx.dom0, root, ownDomid: 0 },
    log: cap.log,
    onChange: (_s, c) => changes.push([...c]),
  });
  try {
    assert.equal(cfg.connectorMap.get('vm1/id0'), 'XS-0');
    assert.equal(cfg.connectorMap.get('vm1/id1'), 'FILE-1');
    assert.equal(cfg.quotas.maxBuffers, 2);
    assert.equal(cfg.quotas.maxFramebuffers, 3);
    assert.deepEqual(cfg.settings.viewer, { host: '127.0.0.1', port: 8111 });
    assert.equal(cfg.origin.get('viewer'), 'xenstore');
    const warns = cap.messages('warn');
    assert.ok(
      warns.some((m) => m.includes('unknown setting "colour"')),
      warns.join('\n'),
    );
    assert.ok(
      warns.some((m) => m.includes('control-socket cannot be set from XenStore')),
      warns.join('\n'),
    );
    assert.ok(
      warns.some((m) => m.includes('connector mapping "id9=FLAT-9": expected GUEST/UNIQUE_ID=OUTPUT')),
      warns.join('\n'),
    );

    // The backend holds the live views, as the daemon passes them; neither is rebuilt.
    const headless = new HeadlessBackend([
      { name: 'XS-0', width: 64, height: 48 },
      { name: 'NEW-0', width: 64, height: 48 },
    ]);
    const outputs = new OutputMap({
      backends: [headless],
      onDemand: headless,
      connectorMap: cfg.connectorMap,
      unmapped: 'refuse',
    });
    const registry = new BufferRegistry(cfg.quotas);
    const ref = {
      guest: { domid: 1 as DomId, name: 'vm1' },
      devId: 0,
      index: 0,
      uniqueId: 'id0',
      resolution: { width: 64, height: 48 },
    };
    const first = outputs.claim(ref);
    assert.ok(first.ok && first.claim.output.name === 'XS-0');
    first.claim.release();
    assert.ok(registry.reserveBuffer(cookie(1n), 1).ok);
    assert.ok(registry.reserveBuffer(cookie(2n), 1).ok);
    assert.deepEqual(registry.reserveBuffer(cookie(3n), 1), { ok: false, errno: -12 });

    const before = cfg.reloads;
    await fx.dom0.transaction(async (tx) => {
      await tx.write(`${root}/connectors/vm1/id0`, 'NEW-0');
      await tx.write(`${root}/quotas/buffers`, '3');
      await tx.write(`${root}/viewer`, '8222');
      await tx.write(`${root}/log-level`, 'warn');
    });
    await waitFor(() => cfg.reloads > before && cfg.quotas.maxBuffers === 3, 'the reload');
    await cfg.settled();
    assert.equal(cfg.connectorMap.get('vm1/id0'), 'NEW-0');
    const second = outputs.claim(ref);
    assert.ok(second.ok && second.claim.output.name === 'NEW-0', 'a new connection gets the new mapping');
    second.claim.release();
    assert.ok(registry.reserveBuffer(cookie(3n), 1).ok, 'the raised quota applies to the live registry');
    assert.equal(cfg.settings.logLevel, 'warn', 'log level is live');
    assert.deepEqual(cfg.settings.viewer, { host: '127.0.0.1', port: 8111 }, 'the viewer listener stays as started');
    assert.ok(
      cap
        .messages('warn')
        .some(
          (m) =>
            m ===
            'config: viewer changed in XenStore to {"host":"127.0.0.1","port":8222}; it takes effect at the next start',
        ),
    );
    assert.deepEqual(changes.at(-1)?.sort(), ['connectors', 'logLevel', 'quotas']);

    // Removing an entry falls back to the layer below; the CLI still beats XenStore.
    const n = cfg.reloads;
    await fx.dom0.rm(`${root}/connectors/vm1/id0`);
    await fx.dom0.write(`${root}/quotas/framebuffers`, '30');
    await fx.dom0.write(`${root}/metrics`, '7777');
    await waitFor(() => cfg.reloads > n && !cfg.connectorMap.has('vm1/id0'), 'the removal');
    await cfg.settled();
    assert.equal(cfg.quotas.maxFramebuffers, 3);
    assert.ok(
      cap.messages('warn').some((m) => m.includes('sets quotas.framebuffers, but the command line overrides it')),
    );

    // Unknown keys are warned about once however often the subtree is re-read.
    for (let i = 0; i < 3; i++) {
      const k = cfg.reloads;
      await fx.dom0.write(`${root}/quotas/pages`, String(1000 + i));
      await waitFor(() => cfg.reloads > k, 'a reload');
    }
    await cfg.settled();
    assert.equal(cfg.quotas.maxMappedPages, 1002);
    assert.equal(cap.messages('warn').filter((m) => m.includes('"colour"')).length, 1);

    // A node another domain may write is not believed.
    const k = cfg.reloads;
    await fx.dom0.write(`${root}/quotas/buffer-pages`, '9');
    await fx.dom0.setPerms(`${root}/quotas/buffer-pages`, [
      { domid: 0, access: 'n' },
      { domid: 5, access: 'w' },
    ]);
    await waitFor(() => cfg.reloads > k + 1, 'two reloads');
    await cfg.settled();
    assert.equal(cfg.quotas.maxBufferPages, DEFAULT_QUOTAS.maxBufferPages);
    assert.ok(cap.messages('warn').some((m) => m.includes('quotas/buffer-pages: writable by domain 5, ignored')));
    await headless.close();
  } finally {
    await cfg.close();
    await cfg.close();
    await fx.close();
  }
});

void test('XenStore subtree absent at start: no transaction to find that out; written later, it is read whole and applied', async () => {
  const fx = await xenstored();
  const cap = captureLogger();
  const root = '/local/domain/0/vdispld';
  let transactions = 0;
  // The client as LiveConfig sees it, counting transactions.
  const xs = new Proxy(fx.dom0, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'transaction') transactions++;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const cfg = await LiveConfig.start({ local: [], xenstore: { xs, root, ownDomid: 0 }, log: cap.log });
  try {
    assert.equal(transactions, 0, 'an absent subtree is one directory read, at start and on the watch registration');
    assert.ok(cfg.reloads >= 1);
    assert.equal(cfg.connectorMap.get('vm1/id0'), undefined);
    assert.equal(cfg.quotas.maxBuffers, DEFAULT_QUOTAS.maxBuffers);
    const before = cfg.reloads;
    await fx.dom0.transaction(async (tx) => {
      await tx.write(`${root}/connectors/vm1/id0`, 'LATE-0');
      await tx.write(`${root}/quotas/buffers`, '5');
    });
    await waitFor(() => cfg.reloads > before && cfg.quotas.maxBuffers === 5, 'the reload of the new subtree');
    await cfg.settled();
    assert.equal(cfg.connectorMap.get('vm1/id0'), 'LATE-0');
    assert.ok(transactions >= 1, 'a subtree that exists is read in a transaction');
    assert.deepEqual(cap.messages('warn'), []);
  } finally {
    await cfg.close();
    await fx.close();
  }
});
