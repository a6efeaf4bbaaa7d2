// Every subcommand registers itself here; one module per command.
import type { Command } from 'commander';
import { register as demo } from './demo.js';
import { register as outputs } from './outputs.js';
import { register as run } from './run.js';
import { register as selfcheck } from './selfcheck.js';
import { register as sim } from './sim.js';
import { register as snapshot } from './snapshot.js';
import { register as status } from './status.js';

export function registerCommands(program: Command): void {
  selfcheck(program);
  run(program);
  demo(program);
  sim(program);
  outputs(program);
  status(program);
  snapshot(program);
}
