// `vdispld status`: what the running daemon serves — devices, connectors, states, buffers, zero-copy
// or copy, frames/s, flip latency — asked over its control socket.
import { Option, type Command } from 'commander';
import { controlRequest } from '../ops/control/control-client.js';
import { DEFAULT_CONTROL_SOCKET } from '../ops/config/settings.js';
import type { StatusReport } from '../ops/status/status-report.js';
import { renderStatus } from '../ops/status/status-text.js';

export function socketOption(): Option {
  return new Option('--socket <path>', 'the daemon control socket')
    .env('VDISPLD_CONTROL_SOCKET')
    .default(DEFAULT_CONTROL_SOCKET);
}

export function register(program: Command): void {
  program
    .command('status')
    .description(
      'show what the running daemon serves (devices, connectors, states, buffers, paths, frames/s, flip latency)',
    )
    .addOption(socketOption())
    .addOption(new Option('--json', 'print the status document as JSON (for scripts)').env('VDISPLD_JSON'))
    .addHelpText(
      'after',
      "\nExamples:\n  vdispld status\n  vdispld status --json | jq '.devices[].connectors[] | {key, framesPerSecond}'\n  VDISPLD_CONTROL_SOCKET=/tmp/vdispld.sock vdispld status",
    )
    .action(async (o: { socket: string; json?: boolean }) => {
      try {
        const a = await controlRequest(o.socket, { v: 1, cmd: 'status' });
        const status = a.header['status'] as StatusReport;
        process.stdout.write(o.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
      } catch (err) {
        process.stderr.write(`vdispld status: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
