// `vdispld snapshot DOMID/DEV/CONN -o file.png`: the frame a guest connector shows now, as PNG,
// from the running daemon.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { controlRequest } from '../ops/control/control-client.js';
import { parseTarget, type SnapshotHeader } from '../ops/control/protocol.js';
import { socketOption } from './status.js';

function target(s: string): string {
  if (!parseTarget(s))
    throw new InvalidArgumentError(
      'expected DOMID/DEV/CONN with CONN a connector index or unique-id, e.g. 1/0/0 or 1/0/id0 (see `vdispld status`)',
    );
  return s;
}

export function register(program: Command): void {
  program
    .command('snapshot')
    .description("write a guest connector's current frame as PNG")
    .argument('<domid/dev/conn>', 'the connector (CONN: index or unique-id), as `vdispld status` lists it', target)
    .addOption(
      new Option('-o, --output <file>', 'PNG file to write ("-" for stdout)')
        .env('VDISPLD_SNAPSHOT_FILE')
        .makeOptionMandatory(),
    )
    .addOption(socketOption())
    .addOption(new Option('--json', 'print what was written as JSON (for scripts)').env('VDISPLD_JSON'))
    .addHelpText(
      'after',
      '\nExamples:\n  vdispld snapshot 1/0/0 -o guest1.png\n  vdispld snapshot 1/0/id1 -o side.png --json\n  vdispld snapshot 5/0/1 -o - --socket /run/vdispld/control.sock > screen.png',
    )
    .action(async (t: string, o: { output: string; socket: string; json?: boolean }) => {
      try {
        const a = await controlRequest(o.socket, { v: 1, cmd: 'snapshot', target: t });
        const h = a.header['snapshot'] as SnapshotHeader;
        const png = a.payload ?? Buffer.alloc(0);
        if (o.output === '-') process.stdout.write(png);
        else writeFileSync(o.output, png);
        const info = {
          target: h.target,
          output: h.output,
          width: h.width,
          height: h.height,
          sequence: h.sequence,
          file: o.output,
          bytes: png.length,
        };
        if (o.json && o.output !== '-') process.stdout.write(`${JSON.stringify(info)}\n`);
        else if (o.output !== '-')
          process.stdout.write(`${h.target} (${h.output}) ${h.width}x${h.height} frame ${h.sequence} -> ${o.output}\n`);
      } catch (err) {
        process.stderr.write(`vdispld snapshot: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
