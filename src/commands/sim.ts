// `vdispld sim …`: the simulator's standalone pieces. `sim xenstored --socket PATH` runs the
// simulated xenstored with dom0 connections on PATH, so people can point xenstore-utils or their
// own tools at it (XENSTORED_PATH=PATH). Other simulator commands register under `sim` through
// simCommand().
import { Command, InvalidArgumentError } from 'commander';
import { startXenstored } from '../sim/xenstored/index.js';

/** The `sim` parent command, created on first use so several modules can add subcommands. */
export function simCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'sim') ??
    program.command('sim').description('run pieces of the simulated Xen host standalone')
  );
}

function domid(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 0x7fef) {
    throw new InvalidArgumentError('expected a guest domain id, 1..32751');
  }
  return Number(v);
}

function collect(v: string, acc: number[]): number[] {
  return [...acc, domid(v)];
}

export function register(program: Command): void {
  simCommand(program)
    .command('xenstored')
    .description('run the simulated xenstored; dom0 connects on --socket, domain N on <socket>.domN once introduced')
    .requiredOption('--socket <path>', 'unix socket for dom0 (privileged) connections')
    .option('--introduce <domid>', 'introduce a guest domain at start (repeatable)', collect, [] as number[])
    .option('--verbose', 'log refused frames and control messages to stderr')
    .action(async (opts: { socket: string; introduce: number[]; verbose?: boolean }) => {
      const xs = await startXenstored({
        socketPath: opts.socket,
        log: opts.verbose ? (line) => process.stderr.write(`xenstored: ${line}\n`) : undefined,
      });
      for (const d of opts.introduce) {
        console.log(`dom${d}: ${await xs.introduceDomain(d)}`);
      }
      console.log(`xenstored: listening on ${xs.socketPath} (export XENSTORED_PATH=${xs.socketPath})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await xs.close();
    });
}
