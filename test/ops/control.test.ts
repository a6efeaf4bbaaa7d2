// The control socket end to end: the server in this process, `vdispld status` and `vdispld
// snapshot` as real child processes; permissions, stale and foreign files, hostile requests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodePng } from '../../src/drm/headless/snapshot.js';
import { controlRequest } from '../../src/ops/control/control-client.js';
import { ControlServer } from '../../src/ops/control/control-server.js';
import { decodeRequest, parseTarget } from '../../src/ops/control/protocol.js';
import { OpsServices } from '../../src/ops/ops-services.js';
import type { StatusReport } from '../../src/ops/status/status-report.js';
import { renderStatus } from '../../src/ops/status/status-text.js';
import { FakeDaemon } from './fake-daemon.js';
import { assertNoNewHandles, captureLogger, openHandles, tempDir } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Generous: the CLI starts through tsx, slow on a loaded 2-core machine; a hang still ends.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

void test('protocol: targets and requests are validated', () => {
  assert.deepEqual(parseTarget('5/0/1'), { domid: 5, devId: 0, conn: { index: 1 } });
  assert.deepEqual(parseTarget('5/0/id1'), { domid: 5, devId: 0, conn: { uniqueId: 'id1' } });
  for (const bad of ['5/0', '5/0/4', 'a/b/c', '99999/0/0', '5/0/1/2', ' 5/0/1', '5/0/a b'])
    assert.equal(parseTarget(bad), undefined, bad);
  assert.deepEqual(decodeRequest('{"v":1,"cmd":"status"}'), { v: 1, cmd: 'status' });
  assert.deepEqual(decodeRequest('{"v":2,"cmd":"status"}'), {
    error: 'protocol version 2 unsupported (this daemon speaks 1)',
  });
  assert.deepEqual(decodeRequest('nope'), { error: 'request is not JSON' });
  assert.deepEqual(decodeRequest('{"v":1,"cmd":"snapshot","target":"x"}'), {
    error: 'snapshot target must be DOMID/DEV/CONN (connector index or unique-id), e.g. 1/0/0',
  });
  assert.match((decodeRequest('{"v":1,"cmd":"reboot"}') as { error: string }).error, /unknown command "reboot"/);
});

void test('status and snapshot over the socket: JSON, text, PNG of the shown frame; root-only socket', async () => {
  const t = tempDir('ctl');
  const before = openHandles();
  const fake = new FakeDaemon();
  const cap = captureLogger();
  const sock = join(t.dir, 'control.sock');
  const ops = await OpsServices.start({
    probe: fake,
    log: cap.log,
    version: '9.9.9',
    controlSocket: sock,
    metrics: 'off',
    viewer: 'off',
    sampleMs: 20,
  });
  try {
    assert.equal(statSync(sock).mode & 0o777, 0o600, 'socket is rw for root only');
    const [a, b] = await fake.addDevice(3, 0, [
      [64, 48],
      [32, 24],
    ]);
    await a!.draw((x, y) => [x * 4, y * 5, 200]);
    await b!.draw(() => [10, 20, 30]);

    const status = (await controlRequest(sock, { v: 1, cmd: 'status' })).header['status'] as StatusReport;
    assert.equal(status.version, 1);
    assert.equal(status.daemon.version, '9.9.9');
    assert.equal(status.devices.length, 1);
    const c0 = status.devices[0]!.connectors[0]!;
    assert.equal(c0.key, '3/0/0');
    assert.equal(c0.output, 'dom3.0.id0');
    assert.deepEqual(c0.flips, { shown: 1, dropped: 0 });
    assert.deepEqual(status.outputs.map((o) => o.name).sort(), ['dom3.0.id0', 'dom3.0.id1']);
    const text = renderStatus(status);
    assert.match(text, /^vdispld 9\.9\.9, pid \d+/);
    assert.match(text, /dom3 device 0: connected \(frontend Connected\)/);
    assert.match(text, /3\/0\/1\s+id1\s+dom3\.0\.id1\s+32x24/);

    const snap = await controlRequest(sock, { v: 1, cmd: 'snapshot', target: '3/0/0' });
    const png = decodePng(snap.payload!);
    assert.equal(png.width, 64);
    assert.equal(png.height, 48);
    const px = (x: number, y: number): number[] => [...png.rgba.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 4)];
    assert.deepEqual(px(10, 7), [40, 35, 200, 255]);
    assert.deepEqual(px(63, 47), [252, 235, 200, 255]);
    assert.equal((snap.header['snapshot'] as { bytes: number }).bytes, snap.payload!.length);

    await assert.rejects(
      controlRequest(sock, { v: 1, cmd: 'snapshot', target: '3/0/3' }),
      /dom3 device 0 has no connector 3/,
    );
    await assert.rejects(
      controlRequest(sock, { v: 1, cmd: 'snapshot', target: '4/0/0' }),
      /no vdispl device 0 of domain 4/,
    );

    // The commands, as an operator runs them.
    const st = await cli(['status', '--socket', sock]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout.toString(), /dom3 device 0: connected/);
    const js = await cli(['status', '--json'], { VDISPLD_CONTROL_SOCKET: sock });
    assert.equal(js.code, 0, js.stderr);
    assert.equal((JSON.parse(js.stdout.toString()) as StatusReport).devices[0]!.connectors.length, 2);
    const file = join(t.dir, 'shot.png');
    const sn = await cli(['snapshot', '3/0/id1', '-o', file, '--socket', sock, '--json']);
    assert.equal(sn.code, 0, sn.stderr);
    assert.deepEqual(JSON.parse(sn.stdout.toString()), {
      target: '3/0/1',
      output: 'dom3.0.id1',
      width: 32,
      height: 24,
      sequence: (JSON.parse(sn.stdout.toString()) as { sequence: number }).sequence,
      file,
      bytes: readFileSync(file).length,
    });
    assert.deepEqual([...decodePng(readFileSync(file)).rgba.subarray(0, 4)], [10, 20, 30, 255]);
    const bad = await cli(['snapshot', '3/0', '-o', file, '--socket', sock]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /DOMID\/DEV\/CONN/);
    const missing = await cli(['snapshot', '3/0/2', '-o', file, '--socket', sock]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no connector 2/);
    const none = await cli(['status', '--socket', join(t.dir, 'nothing.sock')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no vdispld is listening on .*nothing\.sock \(is the daemon running\?/);
  } finally {
    await ops.close();
    await ops.close();
    await fake.close();
  }
  assert.equal(existsSync(sock), false, 'socket file removed');
  await assertNoNewHandles(before, 'the control socket, sampler and encoder');
  t.remove();
});

void test('hostile clients: garbage, oversized and silent requests get an answer or are dropped; nothing leaks', async () => {
  const t = tempDir('ctl2');
  const sock = join(t.dir, 'c.sock');
  let calls = 0;
  const srv = await ControlServer.listen(sock, () => {
    calls++;
    return Promise.resolve({ header: { status: {} } });
  });
  const exchange = (data: Buffer | string): Promise<string> =>
    new Promise((resolve) => {
      const s = connect(sock);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
      s.write(data);
    });
  try {
    assert.match(await exchange('{"v":1,"cmd":"rm -rf"}\n'), /"ok":false,"error":"unknown command/);
    assert.match(await exchange(Buffer.alloc(5000, 0x41)), /request longer than 4096 bytes/);
    assert.match(await exchange('\x00\xff\n'), /request is not JSON/);
    assert.equal(calls, 0);
    assert.match(await exchange('{"v":1,"cmd":"status"}\n{"v":1,"cmd":"status"}\n'), /^\{"ok":true,"status":\{\}\}\n$/);
    assert.equal(calls, 1, 'one exchange per connection');
  } finally {
    await srv.close();
  }
  // A live socket (another daemon) is refused; a stale one (its daemon killed) is replaced.
  const live = createServer();
  await new Promise<void>((r) => live.listen(sock, r));
  await assert.rejects(
    ControlServer.listen(sock, () => Promise.resolve({ error: 'x' })),
    /another vdispld is answering there/,
  );
  await new Promise<void>((r) => live.close(() => r()));
  const killed = spawn(
    process.execPath,
    ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", sock],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((r) => killed.stdout.once('data', () => r()));
  killed.kill('SIGKILL');
  await new Promise<void>((r) => killed.once('exit', () => r()));
  assert.ok(existsSync(sock), 'a killed daemon leaves its socket file');
  const again = await ControlServer.listen(sock, () => Promise.resolve({ error: 'x' }));
  await again.close();
  writeFileSync(sock, 'not a socket');
  await assert.rejects(
    ControlServer.listen(sock, () => Promise.resolve({ error: 'x' })),
    /exists and is not a socket/,
  );
  assert.equal(readFileSync(sock, 'utf8'), 'not a socket', 'a foreign file is never deleted');
  t.remove();
});

void test('a default control socket that is taken does not stop the daemon; one asked for does', async () => {
  const t = tempDir('ctl3');
  const sock = join(t.dir, 'c.sock');
  const fake = new FakeDaemon();
  const first = await OpsServices.start({
    probe: fake,
    log: captureLogger().log,
    version: 't',
    controlSocket: sock,
    metrics: 'off',
    viewer: 'off',
  });
  try {
    const cap = captureLogger();
    const second = await OpsServices.start({
      probe: fake,
      log: cap.log,
      version: 't',
      controlSocket: sock,
      controlSocketOptional: true,
      metrics: 'off',
      viewer: 'off',
    });
    assert.ok(
      cap.messages('warn').some((m) => /another vdispld is answering there; running without a control socket/.test(m)),
    );
    assert.equal(second.status().listeners?.controlSocket, undefined);
    await second.close();
    await assert.rejects(
      OpsServices.start({
        probe: fake,
        log: captureLogger().log,
        version: 't',
        controlSocket: sock,
        metrics: 'off',
        viewer: 'off',
      }),
      /another vdispld is answering there/,
    );
    assert.equal(
      ((await controlRequest(sock, { v: 1, cmd: 'status' })).header['status'] as StatusReport).daemon.version,
      't',
      'the first still answers',
    );
  } finally {
    await first.close();
    await fake.close();
    t.remove();
  }
});
