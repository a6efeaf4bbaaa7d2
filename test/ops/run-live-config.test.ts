// `vdispld run` (its own process) against a simulated host: the toolstack maps a guest connector
// to an output through the XenStore subtree before the guest exists (by the domain name it will
// have), then re-maps it while the daemon runs; the next guest of that name lands on the new
// output without a restart. Read back through the
// daemon's control socket, as an operator would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { controlRequest } from '../../src/ops/control/control-client.js';
import type { StatusReport } from '../../src/ops/status/status-report.js';
import { SimHost } from '../../src/sim/host.js';
import { tempDir, waitFor } from './helpers.js';

const root = new URL('../..', import.meta.url).pathname;

void test('vdispld run: connector map from XenStore at start and changed live', { timeout: 180_000 }, async () => {
  const t = tempDir('runcfg');
  const sock = join(t.dir, 'control.sock');
  const host = await SimHost.start({});
  const cfg = '/local/domain/0/vdispld';
  await host.xs.write(`${cfg}/connectors/tv/main`, 'left');
  const daemon = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/main.ts'),
      'run',
      '--platform',
      'sim',
      '--sim-dir',
      host.dir,
      '--xenstore',
      host.xenstoredPath,
      '--output',
      'headless',
      '--headless',
      'left=640x480',
      '--headless',
      'right=640x480',
      '--unmapped',
      'refuse',
      '--control-socket',
      sock,
      '--log-format',
      'json',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => daemon.once('exit', (c) => r(c)));
  const status = async (): Promise<StatusReport> =>
    (await controlRequest(sock, { v: 1, cmd: 'status' })).header['status'] as StatusReport;
  const outputOf = async (domid: number): Promise<string | undefined> => {
    const d = (await status()).devices.find((x) => x.domid === domid);
    return d?.state === 'connected' ? d.connectors[0]?.output : undefined;
  };
  const until = async (what: string, cond: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!(await cond())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}; daemon log:\n${log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    await waitFor(() => log.includes('watching for vdispl devices') || daemon.exitCode !== null, 'the daemon', 60_000);
    const g1 = await host.createDomain({ name: 'tv', vdispl: ['connectors=main:640x480'] });
    await until('guest 1 on output "left"', async () => (await outputOf(g1.domid)) === 'left');
    const s = await status();
    assert.deepEqual(s.config?.['connectors.tv/main'], { value: 'left', origin: 'xenstore' });

    await host.xs.write(`${cfg}/connectors/tv/main`, 'right');
    await until('the daemon to log the change', () =>
      Promise.resolve(log.includes('config: applied XenStore change to connectors')),
    );
    assert.equal(await outputOf(g1.domid), 'left', 'a connected guest keeps its output');
    await host.destroyDomain(g1.domid);
    const g2 = await host.createDomain({ name: 'tv', vdispl: ['connectors=main:640x480'] });
    await until('guest 2 on output "right"', async () => (await outputOf(g2.domid)) === 'right');
    assert.deepEqual((await status()).config?.['connectors.tv/main'], { value: 'right', origin: 'xenstore' });
    await host.destroyDomain(g2.domid);
  } finally {
    daemon.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') daemon.kill('SIGKILL');
    await host.close();
    t.remove();
    assert.equal(code, 0, log.slice(-2000));
  }
});
