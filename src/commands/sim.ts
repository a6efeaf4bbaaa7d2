// `vdispld sim …`: the simulator's standalone pieces. `sim xenstored --socket PATH` runs the
// simulated xenstored with dom0 connections on PATH, so people can point xenstore-utils or their
// own tools at it (XENSTORED_PATH=PATH). Other simulator commands register under `sim` through
// simCommand().
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDomId } from '../util/ids.js';

/** The `sim` parent command, created on first use so several modules can add subcommands. */
export function simCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'sim') ??
    program
      .command('sim')
      .description('run pieces of the simulated Xen host standalone')
      .addHelpText('after', '\nExamples:\n  vdispld sim xenstored --socket /tmp/xs.sock\n  vdispld sim help xenstored')
  );
}

function domid(v: string): number {
  const d = parseDomId(v);
  if (d === undefined || d === 0) throw new InvalidArgumentError('expected a guest domain id, 1..32751');
  return d;
}

/** Repeatable, and comma-separated for the environment (VDISPLD_INTRODUCE=3,4). */
function collect(v: string, acc: number[]): number[] {
  return [...acc, ...v.split(',').map((s) => domid(s.trim()))];
}

export function register(program: Command): void {
  simCommand(program)
    .command('xenstored')
    .description('run the simulated xenstored; dom0 connects on --socket, domain N on <socket>.domN once introduced')
    .addOption(
      new Option('--socket <path>', 'unix socket for dom0 (privileged) connections')
        .env('VDISPLD_XENSTORED_SOCKET')
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--introduce <domid>',
        'introduce a guest domain at start (repeatable; the variable takes a comma list)',
      )
        .env('VDISPLD_INTRODUCE')
        .argParser(collect)
        .default([] as number[], 'none'),
    )
    .addOption(new Option('--verbose', 'log refused frames and control messages to stderr').env('VDISPLD_VERBOSE'))
    .addHelpText(
      'after',
      `
Examples:
  vdispld sim xenstored --socket /tmp/xs.sock --introduce 3
  XENSTORED_PATH=/tmp/xs.sock xenstore-ls /local/domain      # xenstore-utils against it`,
    )
    .action(async (opts: { socket: string; introduce: number[]; verbose?: boolean }) => {
      // Loaded here, not at the top: every other command (the daemon's start-up above all) goes without it.
      const { startXenstored } = await import('../sim/xenstored/index.js');
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
